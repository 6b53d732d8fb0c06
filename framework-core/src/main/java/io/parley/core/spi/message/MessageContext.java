package io.parley.core.spi.message;

import org.osgi.annotation.versioning.ProviderType;

import java.time.Instant;
import java.util.List;

/** What a processor may know about a send besides the message itself. Implemented by the core. */
@ProviderType
public interface MessageContext {
    String senderUserId();

    String senderDeviceId();

    String conversation();

    /** The users the message will be delivered to, the sender excluded. */
    List<String> recipients();

    Instant receivedAt();
}
