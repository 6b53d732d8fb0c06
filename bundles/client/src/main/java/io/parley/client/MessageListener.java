package io.parley.client;

import io.parley.core.proto.Message;

/**
 * Receives the messages delivered to this device: each message once, and per conversation in seq order with no
 * gaps (the client buffers out-of-order deliveries and fetches missing ranges itself). Messages this device sent
 * are not delivered to it (its send future has the ack).
 *
 * <p>Threading: called on the client's event loop thread, never concurrently for one client. It must not block;
 * hand slow work to an executor. When it returns, the message counts as received and its seq is acknowledged
 * to the server shortly after. An exception it throws is logged and does not stop delivery.
 */
@FunctionalInterface
public interface MessageListener {
    void onMessage(Message message);
}
