package io.parley.client;

import io.parley.core.proto.Typing;

/**
 * Receives typing indicators of other members: {@code typing.user} started ({@code typing.typing == true}) or
 * stopped typing in {@code typing.conversation}. Indicators are never stored or re-sent: an application that shows
 * one should also expire it after a few seconds without a repeat, since the "stopped" frame may never come.
 *
 * <p>Threading: called on the client's event loop thread, never concurrently for one client; must not block. An
 * exception it throws is logged.
 */
@FunctionalInterface
public interface TypingListener {
    void onTyping(Typing typing);
}
