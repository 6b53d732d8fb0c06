package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.parley.auth.jwt.JwtTokens;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Notice;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code POST /v1/users/{user}/kick} over real sockets, with client devices signed in on the real engine behind it:
 * refused without and with a wrong admin token (nobody is kicked), one device, every device, bad input.
 */
class KickEndpointTest {

    private final ObjectMapper mapper = new ObjectMapper();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final JwtTokens tokens = new JwtTokens(HttpApiServerTest.SECRET.getBytes(StandardCharsets.UTF_8), "parley");
    private EngineCore core;
    private HttpApiServer server;

    @BeforeEach
    void start() throws Exception {
        core = new EngineCore(HttpApiServerTest.SECRET);
        server = new HttpApiServer(new HttpApiSettings(ServerSettings.builder().host("127.0.0.1").port(0).ioThreads(1)
                .epoll(EpollMode.AUTO).maxConnections(10).build(), HttpApiServerTest.ADMIN, 65536, 8192,
                Duration.ofSeconds(5)),
                TokenIssuer.create(HttpApiServerTest.SECRET, "parley", Duration.ofDays(1), Duration.ofDays(30)));
        server.start();
        server.bindReceiver(core);
    }

    @AfterEach
    void stop() {
        server.stop();
        core.close();
    }

    /** A client device signed in on the engine. */
    private final class Device implements Connection {
        final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
        final CompletableFuture<Notice> closed = new CompletableFuture<>();
        final InboundSession session;

        Device(String user, String device) throws InterruptedException {
            session = core.engine().open(this);
            session.onFrame(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                    .setDeviceId(device).setToken(tokens.mint(user, device, Duration.ofHours(1)))).build());
            Frame answer = frames.poll(5, TimeUnit.SECONDS);
            assertNotNull(answer);
            assertTrue(answer.hasHelloOk(), answer.toString());
        }

        @Override
        public void send(Frame frame) {
            frames.add(frame);
        }

        @Override
        public CompletionStage<Void> sendFlushed(Frame frame) {
            frames.add(frame);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close(Notice notice) {
            if (closed.complete(notice)) {
                session.onClosed();
            }
        }

        @Override
        public String transport() {
            return "test";
        }

        @Override
        public String remoteAddress() {
            return "127.0.0.1:1";
        }
    }

    private HttpResponse<String> kick(String user, String body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.localAddress().getPort()
                        + "/v1/users/" + user + "/kick")).timeout(Duration.ofSeconds(10))
                .POST(body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(HttpResponse<String> r) throws Exception {
        return mapper.readTree(r.body());
    }

    @Test
    void refusedWithoutOrWithAWrongAdminTokenAndNobodyIsKicked() throws Exception {
        Device phone = new Device("alice", "phone");
        HttpResponse<String> none = kick("alice", "{}", null);
        assertEquals(401, none.statusCode(), none.body());
        assertEquals("UNAUTHENTICATED", json(none).get("error").get("code").asText());
        HttpResponse<String> wrong = kick("alice", "{}", HttpApiServerTest.ADMIN + "x");
        assertEquals(401, wrong.statusCode(), wrong.body());
        HttpResponse<String> userToken = kick("alice", "{}", tokens.mint("alice", "phone", Duration.ofHours(1)));
        assertEquals(401, userToken.statusCode(), "a user's own token is no admin token");
        Thread.sleep(100);
        assertFalse(phone.closed.isDone());
    }

    @Test
    void kicksOneDeviceOrEveryDeviceWithKicked() throws Exception {
        Device phone = new Device("alice", "phone");
        Device laptop = new Device("alice", "laptop");
        Device bob = new Device("bob", "phone");

        HttpResponse<String> one = kick("alice", "{\"device\":\"phone\",\"reason\":\"abuse report 17\"}",
                HttpApiServerTest.ADMIN);
        assertEquals(200, one.statusCode(), one.body());
        assertEquals(1, json(one).get("kicked").asInt());
        assertEquals("phone", json(one).get("device").asText());
        Notice notice = phone.closed.get(5, TimeUnit.SECONDS);
        assertEquals(Notice.Kind.KIND_KICKED, notice.getKind());
        assertEquals("abuse report 17", notice.getText());
        assertFalse(laptop.closed.isDone());

        Device tablet = new Device("alice", "tablet");
        HttpResponse<String> all = kick("alice", "{}", HttpApiServerTest.ADMIN); // every device
        assertEquals(200, all.statusCode(), all.body());
        assertEquals(2, json(all).get("kicked").asInt());
        assertEquals("signed out by the operator", laptop.closed.get(5, TimeUnit.SECONDS).getText());
        assertEquals(Notice.Kind.KIND_KICKED, tablet.closed.get(5, TimeUnit.SECONDS).getKind());
        assertFalse(bob.closed.isDone());

        HttpResponse<String> nobody = kick("carol", "{}", HttpApiServerTest.ADMIN);
        assertEquals(200, nobody.statusCode());
        assertEquals(0, json(nobody).get("kicked").asInt());
    }

    @Test
    void badInputIsRefusedWith400() throws Exception {
        Device phone = new Device("alice", "phone");
        for (String body : new String[]{"{\"device\":\"no spaces allowed\"}", "{\"reason\":\"a\\u0000b\"}",
                "{\"reason\":\"" + "x".repeat(201) + "\"}", "{\"devise\":\"phone\"}", "[1]"}) {
            HttpResponse<String> r = kick("alice", body, HttpApiServerTest.ADMIN);
            assertEquals(400, r.statusCode(), body + " → " + r.body());
            assertEquals("INVALID_REQUEST", json(r).get("error").get("code").asText());
        }
        assertEquals(400, kick("%20bad", "{}", HttpApiServerTest.ADMIN).statusCode());
        Thread.sleep(100);
        assertFalse(phone.closed.isDone());
    }
}
