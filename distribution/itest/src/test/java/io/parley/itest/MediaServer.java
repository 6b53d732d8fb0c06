package io.parley.itest;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import io.parley.client.ParleyClient;
import io.parley.client.ParleyClientException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The assembled server set up for the web client's media tests (as {@link BrowserChatIT} sets it up: the page's
 * origin admitted by the WebSocket transport, web/config.json pointing at it), plus what those tests need to read
 * back from the server: stored messages through an SDK device, and fields of bodies whose classes the tests do not
 * link against (read by field number from the protobuf wire format, as documented in docs/protocol.md §6h/§6i).
 */
final class MediaServer {
    private MediaServer() {
    }

    /** Prepares a copy of the distribution in {@code work}; call {@link ServerProcess#start()} after more settings. */
    static ServerProcess prepare(Path work) throws Exception {
        ServerProcess server = new ServerProcess(work);
        ServerProcess.setKey(server.home.resolve("conf/parley.transport.websocket.cfg"), "allowed.origins",
                "http://127.0.0.1:" + server.httpPort);
        Files.writeString(server.home.resolve("web/config.json"),
                "{\"webSocketUrl\": \"ws://127.0.0.1:" + server.webSocketPort + "/parley\"}\n");
        return server;
    }

    static String webUrl(ServerProcess server) {
        return "http://127.0.0.1:" + server.httpPort + "/";
    }

    static ParleyClient sdk(ServerProcess server, String user) throws Exception {
        ParleyClient client = server.clientBuilder(user, "itest-sdk", server.port).build();
        client.connect().get(15, TimeUnit.SECONDS);
        return client;
    }

    /**
     * Waits until the server has a processor for message type {@code type}: a send of an empty body is refused with
     * INVALID_BODY (or BODY_TOO_LARGE) instead of UNSUPPORTED_TYPE once its bundle runs (deploy/ is started after the
     * transports open).
     */
    static void awaitMessageType(ServerProcess server, String type) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (ParleyClient probe = sdk(server, "type-probe")) {
            ErrorCode last = null;
            while (System.nanoTime() < deadline) {
                try {
                    probe.send("type-probe-peer", type, Any.newBuilder()
                            .setTypeUrl("type.googleapis.com/probe.Empty").build()).get(10, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException e) {
                    last = e.getCause() instanceof ParleyClientException p ? p.code() : null;
                    if (last != ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE && last != ErrorCode.ERROR_CODE_UNAVAILABLE) {
                        return;
                    }
                }
                Thread.sleep(200);
            }
            fail("the server has no processor for message type " + type + " (last answer " + last
                    + "): is its bundle in deploy/? See " + server.home.resolve("logs"));
        }
    }

    /** Waits until a handler serves command {@code type} (anything but UNSUPPORTED_COMMAND / UNAVAILABLE). */
    static void awaitCommand(ServerProcess server, String type) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (ParleyClient probe = sdk(server, "command-probe")) {
            ErrorCode last = null;
            while (System.nanoTime() < deadline) {
                try {
                    probe.command(type, Any.getDefaultInstance(), null).get(10, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException e) {
                    last = e.getCause() instanceof ParleyClientException p ? p.code() : null;
                    if (last != ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND && last != ErrorCode.ERROR_CODE_UNAVAILABLE) {
                        return;
                    }
                }
                Thread.sleep(200);
            }
            fail("the server has no handler for command " + type + " (last answer " + last
                    + "): is its bundle in deploy/? See " + server.home.resolve("logs"));
        }
    }

    /** @return the stored messages of the conversation, as a device of {@code user} reads them (seq 1 on) */
    static List<Message> history(ServerProcess server, String user, String conversation) throws Exception {
        try (ParleyClient client = sdk(server, user)) {
            return client.syncRange(conversation, 1, 0, 200).get(15, TimeUnit.SECONDS).getMessagesList();
        }
    }

    /** @return the latest stored message of this type in the conversation, read by a device of {@code user} */
    static Message latest(ServerProcess server, String user, String conversation, String type) throws Exception {
        List<Message> messages = history(server, user, conversation);
        for (int i = messages.size() - 1; i >= 0; i--) {
            if (messages.get(i).getType().equals(type)) {
                return messages.get(i);
            }
        }
        throw new AssertionError("no " + type + " message in " + conversation + ": " + messages);
    }

    /** @return varint field {@code number} of the body (0 when absent, as protobuf's default) */
    static long varint(Any body, int number) throws InvalidProtocolBufferException {
        List<Long> values = UnknownFieldSet.parseFrom(body.getValue()).getField(number).getVarintList();
        return values.isEmpty() ? 0 : values.get(values.size() - 1);
    }

    /** @return bytes/string field {@code number} of the body (empty when absent) */
    static byte[] bytes(Any body, int number) throws InvalidProtocolBufferException {
        var values = UnknownFieldSet.parseFrom(body.getValue()).getField(number).getLengthDelimitedList();
        return values.isEmpty() ? new byte[0] : values.get(values.size() - 1).toByteArray();
    }

    /** The page's duration format (media.js formatDuration): m:ss, rounded to the second. */
    static String formatDuration(long ms) {
        long total = Math.round(ms / 1000.0);
        long h = total / 3600;
        long m = (total % 3600) / 60;
        long s = total % 60;
        return h > 0 ? String.format("%d:%02d:%02d", h, m, s) : String.format("%d:%02d", m, s);
    }

    static Duration seconds(long s) {
        return Duration.ofSeconds(s);
    }
}
