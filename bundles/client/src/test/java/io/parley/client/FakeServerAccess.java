package io.parley.client;

import java.io.IOException;
import java.util.List;

/** Exposes {@link FakeServer} to tests in other packages. */
public final class FakeServerAccess implements AutoCloseable {
    private final FakeServer server;

    public FakeServerAccess() throws IOException {
        server = new FakeServer();
    }

    public int port() {
        return server.port();
    }

    public void append(String conversation, String sender, String text) {
        server.append(conversation, sender, text);
    }

    /** @return the texts stored in {@code conversation}, in seq order */
    public List<String> texts(String conversation) {
        return server.messages(conversation).stream().map(Bodies::textOf).toList();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
