package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * A WebSocket client (the JDK's, speaking raw protobuf frames as docs/protocol.md describes) and a TCP SDK client
 * talk to each other through the assembled server.
 */
class WebSocketInteropIT {
    @TempDir
    static Path work;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        server = new ServerProcess(work);
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    /** Collects whole binary messages (the JDK may hand a message over in parts) as parsed frames. */
    static final class Frames implements WebSocket.Listener {
        final LinkedBlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            partial.writeBytes(bytes);
            if (last) {
                try {
                    frames.add(Frame.parseFrom(partial.toByteArray()));
                } catch (Exception e) {
                    throw new AssertionError("the server sent a frame that does not parse", e);
                }
                partial.reset();
            }
            ws.request(1);
            return null;
        }

        Frame next(Frame.OpCase op) throws InterruptedException {
            while (true) {
                Frame f = frames.poll(15, TimeUnit.SECONDS);
                assertNotNull(f, "expected " + op);
                if (f.getOpCase() == op) {
                    return f;
                }
            }
        }
    }

    private static void send(WebSocket ws, Frame f) throws Exception {
        ws.sendBinary(ByteBuffer.wrap(f.toByteArray()), true).get(10, TimeUnit.SECONDS);
    }

    @Test
    void aWebSocketClientAndATcpClientTalkToEachOther() throws Exception {
        Frames wsFrames = new Frames();
        WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
                .buildAsync(URI.create("ws://127.0.0.1:" + server.webSocketPort + "/parley"), wsFrames)
                .get(15, TimeUnit.SECONDS);
        send(ws, Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                .setToken(server.tokens().mint("wendy", null, Duration.ofMinutes(10))).setDeviceId("browser")).build());
        assertEquals("wendy", wsFrames.next(Frame.OpCase.HELLO_OK).getHelloOk().getUserId());
        send(ws, Frame.newBuilder().setRequestId(2).setSync(SyncRequest.newBuilder()
                .setResume(SyncRequest.Resume.getDefaultInstance())).build());

        LinkedBlockingQueue<Message> tcpInbox = new LinkedBlockingQueue<>();
        try (ParleyClient tom = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId("t1")
                .token(server.tokens().mint("tom", null, Duration.ofMinutes(10))).messageListener(tcpInbox::add).build()) {
            tom.connect().get(15, TimeUnit.SECONDS);

            long seq = tom.sendText("wendy", "hello from tcp").get(15, TimeUnit.SECONDS).getSeq();
            Message got = wsFrames.next(Frame.OpCase.DELIVER).getDeliver().getMessages(0);
            assertEquals("hello from tcp", Bodies.textOf(got));
            assertEquals(seq, got.getSeq());

            send(ws, Frame.newBuilder().setRequestId(3).setSend(Send.newBuilder().setClientMsgId("ws-1").setPeer("tom")
                    .setType("text").setBody(Bodies.text("hello from websocket"))).build());
            assertEquals(seq + 1, wsFrames.next(Frame.OpCase.SEND_ACK).getSendAck().getSeq());
            Message back = tcpInbox.poll(15, TimeUnit.SECONDS);
            assertNotNull(back, "the TCP client got nothing");
            assertEquals("hello from websocket", Bodies.textOf(back));
            assertEquals("browser", back.getSenderDevice());
        } finally {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        }
    }
}
