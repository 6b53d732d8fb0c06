package io.parley.client;

import io.parley.core.proto.Frame;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.MarkRead;
import io.parley.core.proto.Message;
import io.parley.transport.support.TlsSettings;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** Exposes {@link CoreServer} (the real engine behind the real transports) to tests in other packages. */
public final class CoreServerAccess implements AutoCloseable {
    private final CoreServer server;

    /** Plain TCP. */
    public CoreServerAccess() throws IOException {
        server = new CoreServer();
    }

    /** TCP speaking TLS with {@code tls} (the server's key and certificate). */
    public CoreServerAccess(TlsSettings tls) throws IOException {
        server = new CoreServer(tls);
    }

    private CoreServerAccess(CoreServer server) {
        this.server = server;
    }

    /**
     * Plain TCP with the file and image types, the HTTP blob endpoints and the recall command ({@link CoreFiles}),
     * everything kept under {@code dir}; uploads in chunks of at most 64 KiB.
     */
    public static CoreServerAccess withFiles(Path dir) throws IOException {
        return new CoreServerAccess(CoreServer.withFiles(dir, Map.of("upload.chunk.max.bytes", 65536)));
    }

    /** The same server behind the real WebSocket transport; see {@link #webSocketUrl()}. */
    public static CoreServerAccess webSocket() throws IOException {
        return new CoreServerAccess(CoreServer.webSocket(null, 1 << 20));
    }

    /** {@code ws://127.0.0.1:port/parley}; for {@link #webSocket()} servers only. */
    public String webSocketUrl() {
        return "ws://127.0.0.1:" + server.port() + CoreServer.WEBSOCKET_PATH;
    }

    public int port() {
        return server.port();
    }

    /** {@code sender} sends {@code text} to {@code conversation} from another device (online members get it live). */
    public void append(String conversation, String sender, String text) {
        server.append(conversation, sender, text);
    }

    /** @return the texts of the text messages stored in {@code conversation}, in seq order */
    public List<String> texts(String conversation) {
        return server.messages(conversation).stream().filter(m -> Bodies.isText(m.getBody()))
                .map(Bodies::textOf).toList();
    }

    /** @return the types of the messages stored in {@code conversation}, in seq order */
    public List<String> types(String conversation) {
        return server.messages(conversation).stream().map(Message::getType).toList();
    }

    /** @return the user ids of the members of group {@code groupId}, empty if there is no such group */
    public List<String> groupMembers(String groupId) {
        return server.group(groupId).map(g -> g.getMembersList().stream().map(GroupMember::getUser).toList())
                .orElse(List.of());
    }

    /** @return the ids of the groups {@code user} is a member of */
    public List<String> groupIds(String user) {
        return server.groupIds(user);
    }

    /** {@code user} marks {@code conversation} read up to {@code seq}. */
    public void setReadCursor(String user, String conversation, long seq) {
        server.setReadCursor(user, conversation, seq);
    }

    /** Waits for the next MarkRead frame the server receives; returns it. */
    public MarkRead awaitMarkRead(Duration timeout) throws InterruptedException {
        return server.await(Frame::hasMarkRead, timeout).frame().getMarkRead();
    }

    @Override
    public void close() {
        server.close();
    }
}
