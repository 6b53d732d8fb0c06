package io.parley.client;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.MarkRead;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/** Exposes {@link FakeServer} to tests in other packages. */
public final class FakeServerAccess implements AutoCloseable {
    private final FakeServer server;

    public FakeServerAccess() throws IOException {
        server = new FakeServer();
    }

    /** A server speaking TLS with {@code tls} (its key and certificate). */
    public FakeServerAccess(SSLContext tls) throws IOException {
        server = new FakeServer(tls);
    }

    private FakeServerAccess(FakeServer server) {
        this.server = server;
    }

    /** The same server behind the real WebSocket transport; see {@link #webSocketUrl()}. */
    public static FakeServerAccess webSocket() throws IOException {
        return new FakeServerAccess(FakeServer.webSocket(null, 1 << 20));
    }

    /** {@code ws://127.0.0.1:port/parley}; for {@link #webSocket()} servers only. */
    public String webSocketUrl() {
        return "ws://127.0.0.1:" + server.port() + FakeServer.WEBSOCKET_PATH;
    }

    public int port() {
        return server.port();
    }

    public void append(String conversation, String sender, String text) {
        server.append(conversation, sender, text);
    }

    /** @return the texts of the text messages stored in {@code conversation}, in seq order */
    public List<String> texts(String conversation) {
        return server.messages(conversation).stream().filter(m -> Bodies.isText(m.getBody()))
                .map(Bodies::textOf).toList();
    }

    /** @return the user ids of the members of group {@code groupId}, empty if there is no such group */
    public List<String> groupMembers(String groupId) {
        Group g = server.groupOf(groupId);
        return g == null ? List.of() : g.getMembersList().stream().map(GroupMember::getUser).toList();
    }

    public void setReadCursor(String user, String conversation, long seq) {
        server.setReadCursor(user, conversation, seq);
    }

    /** Waits for the next MarkRead frame the server receives; returns it. */
    public MarkRead awaitMarkRead(Duration timeout) throws InterruptedException {
        return server.await(Frame::hasMarkRead, timeout).frame().getMarkRead();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
