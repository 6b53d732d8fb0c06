package io.parley.core.api;

import java.time.Instant;
import java.util.Objects;

/**
 * An authenticated user on one device, as established at hello.
 *
 * @param userId    validated by {@link Ids#checkUserId}
 * @param deviceId  validated by {@link Ids#checkDeviceId}
 * @param expiresAt when the credential that established this principal expires
 */
public record Principal(String userId, String deviceId, Instant expiresAt) {
    public Principal {
        Ids.checkUserId(userId);
        Ids.checkDeviceId(deviceId);
        Objects.requireNonNull(expiresAt, "expiresAt");
    }
}
