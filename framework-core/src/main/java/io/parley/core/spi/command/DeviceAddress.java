package io.parley.core.spi.command;

import io.parley.core.api.Ids;

/**
 * One device of one user: the address of a relayed message that must reach exactly that device
 * ({@link CommandContext#relayTo}, {@link ConversationEvents#relay}).
 *
 * @param user   a user id ({@link Ids#checkUserId})
 * @param device a device id ({@link Ids#checkDeviceId})
 * @since 1.4
 */
public record DeviceAddress(String user, String device) {

    /** @throws io.parley.core.api.ParleyException INVALID_REQUEST if either id is not a valid user or device id */
    public DeviceAddress {
        Ids.checkUserId(user);
        Ids.checkDeviceId(device);
    }

    /** @return {@code user/device}, the form a log line or a message names a device by */
    @Override
    public String toString() {
        return user + "/" + device;
    }
}
