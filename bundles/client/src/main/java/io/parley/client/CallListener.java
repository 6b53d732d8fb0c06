package io.parley.client;

import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.Signal;
import io.parley.core.proto.Message;

/**
 * Receives what calls bring this device (docs/protocol.md §6i), registered with {@link Calls#addListener}: the call
 * events of every conversation of the user (stored messages, so they also reach the {@link MessageListener}, in seq
 * order, live and on resume), and the signals relayed to this device (seq 0, never stored: an OFFER after a peer
 * joined, ANSWER, CANDIDATE, BYE, RENEGOTIATE).
 *
 * <p>Threading: called on the client's event loop thread, never concurrently for one client; must not block. An
 * exception it throws is logged and does not stop delivery.
 *
 * @since 1.7
 */
public interface CallListener {

    /** A call event ({@code message} is the stored message; {@code event} its body). */
    default void onCallEvent(Message message, CallEvent event) {
    }

    /** A signal for this device ({@code message} is the relayed message, {@code signal} its body). */
    default void onSignal(Message message, Signal signal) {
    }
}
