package io.parley.core.internal;

import io.parley.core.spi.command.SessionListener;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The registered {@link SessionListener}s and the calls to them: a device's first session on this node opened, its
 * last one closed ({@link SessionRegistry} decides which). Called synchronously on the thread that registered or
 * removed the session, so a device's "closed" is told before anything its next session does can run (a listener
 * that acted later could undo a rejoin that happened meanwhile); listeners must return at once.
 *
 * <p>Thread-safe: the list is copy-on-write.
 */
@Singleton
final class SessionListeners {
    private static final Logger LOG = LoggerFactory.getLogger(SessionListeners.class);

    private final List<SessionListener> listeners = new CopyOnWriteArrayList<>();

    @Inject
    SessionListeners() {
    }

    void add(SessionListener listener) {
        listeners.add(listener);
    }

    void remove(SessionListener listener) {
        listeners.remove(listener);
    }

    void opened(String user, String device) {
        notifyAll(user, device, true);
    }

    void closed(String user, String device) {
        notifyAll(user, device, false);
    }

    private void notifyAll(String user, String device, boolean opened) {
        for (SessionListener l : listeners) {
            try {
                if (opened) {
                    l.opened(user, device);
                } else {
                    l.closed(user, device);
                }
            } catch (RuntimeException | LinkageError e) {
                LOG.warn("Session listener {} failed on {}/{} {}", l, user, device, opened ? "opening" : "closing", e);
            }
        }
    }
}
