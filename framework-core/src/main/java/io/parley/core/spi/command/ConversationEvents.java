package io.parley.core.spi.command;

import com.google.protobuf.Any;
import io.parley.core.proto.Message;
import org.osgi.annotation.versioning.ProviderType;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * What a bundle appends or relays on its own account, outside any command — a timer that decides "nobody answered",
 * a device whose connection dropped — acting as a member it names. An OSGi service of the core (one per node,
 * registered while the core runs). Every call is authorized as for a command of {@code asUser}: the core's
 * membership rules apply, never the bundle's.
 *
 * <p>Thread-safe; may read the store (a group record on a cache miss), so call it from a worker or timer of the
 * bundle, never from a network thread. Refusals are thrown as (or complete exceptionally with)
 * {@link io.parley.core.api.ParleyException}.
 *
 * @since 1.4
 */
@ProviderType
public interface ConversationEvents {

    /**
     * Appends a message of {@code type} with {@code body} to the conversation's seq stream, sent by {@code asUser}
     * from {@code asDevice}, and delivers it to every device of every member; with a {@code pushPreview} it also goes
     * to the notification channels like a stored message (offline push…), without one it does not (a system event).
     * Stored once per {@code (asUser, key)}: a repeat completes with the first one's message. Its
     * {@code client_msg_id} is {@code "command:" + key} (a prefix no client send may use).
     *
     * @param asDevice the device to name as the sender's, or empty when the server decided on its own
     * @param key      the idempotency key, 1–128 characters, unique per event (e.g. {@code call:<id>:<n>})
     * @return a stage completed with the stored message (with its seq) once it is durable
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless {@code asUser} is a member;
     *                                            {@code UNAVAILABLE} while no store runs
     */
    CompletionStage<Message> append(String conversation, String asUser, String asDevice, String type, Any body,
                                    String key, String pushPreview);

    /**
     * Relays a message of {@code type} with {@code body}, sent by {@code asUser} from {@code asDevice}, to exactly
     * {@code devices}, as {@link CommandContext#relayTo} does for a command's caller.
     *
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless {@code asUser} is a member;
     *                                            {@code FORBIDDEN} if a device's user is not a member
     */
    void relay(String conversation, String asUser, String asDevice, String type, Any body,
               Collection<DeviceAddress> devices);

    /**
     * @return the members of {@code conversation}, {@code asUser} included
     * @throws io.parley.core.api.ParleyException {@code NOT_FOUND} unless {@code asUser} is a member
     */
    List<String> members(String conversation, String asUser);
}
