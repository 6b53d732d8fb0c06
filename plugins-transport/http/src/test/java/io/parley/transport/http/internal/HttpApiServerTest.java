package io.parley.transport.http.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import java.nio.file.attribute.FileTime;
import java.nio.file.Path;
import java.nio.file.Files;
import org.junit.jupiter.api.io.TempDir;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.parley.auth.jwt.JwtTokens;
import io.parley.core.api.Principal;
import io.parley.transport.support.EpollMode;
import io.parley.transport.support.ServerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server over real sockets with the real engine behind it ({@link EngineCore}), driven by the JDK's HTTP client. */
class HttpApiServerTest {

    static final String ADMIN = "test-admin-token-0123456789";
    static final String SECRET = "http-api-test-secret-0123456789-abcdefghij";

    private final ObjectMapper mapper = new ObjectMapper();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<HttpApiServer> servers = new ArrayList<>();
    private EngineCore core;
    private HttpApiServer server;

    @BeforeEach
    void start() throws IOException {
        core = new EngineCore(SECRET);
        server = start(settings(ADMIN, 1024 * 1024, Duration.ofSeconds(5), 100), SECRET);
        server.bindReceiver(core);
    }

    @AfterEach
    void stop() throws InterruptedException {
        servers.forEach(HttpApiServer::stop);
        core.close();
        assertEquals(core.opened.get(), core.closed.get(), "every core session is closed exactly once");
    }

    private HttpApiServer start(HttpApiSettings settings, String secret) throws IOException {
        HttpApiServer s = new HttpApiServer(settings,
                TokenIssuer.create(secret, "parley", Duration.ofDays(1), Duration.ofDays(30)));
        s.start();
        servers.add(s);
        return s;
    }

    static HttpApiSettings settings(String admin, int maxBody, Duration timeout, int maxConnections) {
        return new HttpApiSettings(ServerSettings.builder().host("127.0.0.1").port(0).ioThreads(1)
                .epoll(EpollMode.AUTO).maxConnections(maxConnections).build(), admin, maxBody, 8192, timeout);
    }

    // ------------------------------------------------------------------------------------------------ auth, routing

    @Test
    void healthIsOpenAndReportsWhetherTheCoreIsBound() throws Exception {
        HttpResponse<String> up = call("GET", "/health", null, null);
        assertEquals(200, up.statusCode());
        assertEquals("UP", json(up).get("status").asText());
        assertEquals("application/json; charset=utf-8", up.headers().firstValue("content-type").orElse(""));

        server.unbindReceiver(core);
        HttpResponse<String> down = call("GET", "/health", null, null);
        assertEquals(503, down.statusCode());
        assertEquals("DOWN", json(down).get("status").asText());
        HttpResponse<String> send = post("/v1/messages", "{\"to\":\"bob\",\"text\":\"hi\"}");
        assertError(send, 503, "UNAVAILABLE");
        assertTrue(json(send).get("error").get("retryable").asBoolean());
        assertEquals(1000, json(send).get("error").get("retry_after_ms").asInt());
        assertEquals("1", send.headers().firstValue("retry-after").orElse(""));
    }

    @Test
    void everyV1CallNeedsTheAdminToken() throws Exception {
        HttpResponse<String> none = call("GET", "/v1/users/alice/conversations", null, null);
        assertError(none, 401, "UNAUTHENTICATED");
        assertEquals("Bearer realm=\"parley\"", none.headers().firstValue("www-authenticate").orElse(""));
        assertError(call("GET", "/v1/users/alice/conversations", null, ADMIN + "x"), 401, "UNAUTHENTICATED");
        assertError(call("GET", "/v1/users/alice/conversations", null, "Basic " + ADMIN), 401, "UNAUTHENTICATED");
        // unknown /v1 paths do not reveal themselves without the token
        assertError(call("GET", "/v1/nothing-here", null, null), 401, "UNAUTHENTICATED");
        assertError(get("/v1/nothing-here"), 404, "NOT_FOUND");
        assertError(get("/elsewhere"), 404, "NOT_FOUND");
        assertEquals(0, core.opened.get(), "refused calls never reach the core");
    }

    @Test
    void withoutAnAdminTokenTheApiRefusesEverythingButHealth() throws Exception {
        HttpApiServer disabled = start(settings("", 4096, Duration.ofSeconds(5), 10), SECRET);
        disabled.bindReceiver(core);
        HttpResponse<String> r = send(disabled, "POST", "/v1/messages", "{}", ADMIN);
        assertError(r, 503, "UNAVAILABLE");
        assertTrue(json(r).get("error").get("message").asText().contains("admin.token"));
        assertEquals(200, send(disabled, "GET", "/health", null, null).statusCode());
        HttpApiServer weak = start(settings("short", 4096, Duration.ofSeconds(5), 10), SECRET);
        assertError(send(weak, "GET", "/v1/openapi.yaml", null, "short"), 503, "UNAVAILABLE");
    }

    @Test
    void wrongMethodIs405WithAllow() throws Exception {
        HttpResponse<String> r = call("GET", "/v1/messages", null, ADMIN);
        assertError(r, 405, "METHOD_NOT_ALLOWED");
        assertEquals("POST", r.headers().firstValue("allow").orElse(""));
        HttpResponse<String> group = call("PUT", "/v1/groups/g1", "{}", ADMIN);
        assertEquals("GET, DELETE", group.headers().firstValue("allow").orElse(""));
    }

    @Test
    void servesItsOpenApiDocument() throws Exception {
        HttpResponse<byte[]> r = client.send(request("GET", "/v1/openapi.yaml", null, ADMIN).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        assertEquals("application/yaml", r.headers().firstValue("content-type").orElse(""));
        assertArrayEquals(HttpApiServer.openApiDocument(), r.body());
    }

    // ------------------------------------------------------------------------------------------------ messages

    @Test
    void sendsAsTheNamedUserAndIsIdempotent() throws Exception {
        HttpResponse<String> first = post("/v1/messages",
                "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hello\",\"client_msg_id\":\"c-1\",\"ext\":{\"k\":\"v\"}}");
        assertEquals(200, first.statusCode(), first.body());
        JsonNode ack = json(first);
        assertEquals("d:alice:bob", ack.get("conversation").asText());
        assertEquals(1, ack.get("seq").asLong());
        assertFalse(ack.get("duplicate").asBoolean());
        assertTrue(ack.get("server_time").asLong() > 0);
        Principal p = core.principals.get(0);
        assertEquals("alice", p.userId());
        assertEquals(CoreGateway.DEVICE_ID, p.deviceId());

        JsonNode again = json(post("/v1/messages",
                "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hello\",\"client_msg_id\":\"c-1\"}"));
        assertTrue(again.get("duplicate").asBoolean());
        assertEquals(ack.get("message_id"), again.get("message_id"));
        assertEquals(1, again.get("seq").asLong());

        JsonNode second = json(post("/v1/messages", "{\"from\":\"bob\",\"conversation\":\"d:alice:bob\",\"text\":\"hi\"}"));
        assertEquals(2, second.get("seq").asLong());
    }

    @Test
    void withoutFromTheSystemAccountSends() throws Exception {
        JsonNode ack = json(post("/v1/messages", "{\"to\":\"bob\",\"text\":\"maintenance tonight\"}"));
        assertEquals("d:bob:system", ack.get("conversation").asText());
        assertEquals(ApiService.SYSTEM_USER, core.principals.get(0).userId());
    }

    @Test
    void sendsAnyTypeAsABase64Body() throws Exception {
        String value = Base64.getEncoder().encodeToString(ProtoMapping.textBody("raw").getValue().toByteArray());
        HttpResponse<String> ok = post("/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"text\","
                + "\"body\":{\"type_url\":\"" + ProtoMapping.TEXT_TYPE_URL + "\",\"value_base64\":\"" + value + "\"}}");
        assertEquals(200, ok.statusCode(), ok.body());
        HttpResponse<String> unsupported = post("/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"poll\","
                + "\"body\":{\"type_url\":\"type.googleapis.com/x.Poll\",\"value_base64\":\"\"}}");
        assertError(unsupported, 422, "UNSUPPORTED_TYPE");
        assertFalse(json(unsupported).get("error").get("retryable").asBoolean());
    }

    @Test
    void refusesBadSendsWithClearMessages() throws Exception {
        assertMessage(post("/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"conversation\":\"d:alice:bob\",\"text\":\"x\"}"),
                400, "exactly one of to");
        assertMessage(post("/v1/messages", "{\"from\":\"alice\",\"text\":\"x\"}"), 400, "exactly one of to");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\"}"), 400, "text or body is required");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\",\"text\":\"x\",\"body\":{\"type_url\":\"t\"}}"), 400, "not both");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\",\"type\":\"file\",\"text\":\"x\"}"), 400, "only for type");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\",\"body\":{\"type_url\":\"t\"}}"), 400, "type is required");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\",\"type\":\"x\",\"body\":{\"type_url\":\"t\",\"value_base64\":\"@@\"}}"),
                400, "not base64");
        assertMessage(post("/v1/messages", "{\"too\":\"bob\",\"text\":\"x\"}"), 400, "unknown field 'too'");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\",\"text\":\"x\""), 400, "malformed JSON");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\",\"text\":\"x\"} trailing"), 400, "");
        assertMessage(post("/v1/messages", "[1,2]"), 400, "must be a JSON object");
        assertMessage(post("/v1/messages", ""), 400, "must be a JSON object");
        assertMessage(post("/v1/messages", "{\"to\":\"bob\",\"text\":{\"a\":1}}"), 400, "field 'text'");
        assertMessage(post("/v1/messages", "{\"from\":\"no spaces\",\"to\":\"bob\",\"text\":\"x\"}"), 400, "invalid user id");
        // another pair's conversation answers as if it did not exist (the engine's rule)
        assertMessage(post("/v1/messages", "{\"from\":\"carol\",\"conversation\":\"d:alice:bob\",\"text\":\"x\"}"),
                404, "no such conversation");
        assertError(post("/v1/messages", "{\"from\":\"carol\",\"conversation\":\"nonsense\",\"text\":\"x\"}"), 404, "NOT_FOUND");
    }

    @Test
    void bodiesOverTheLimitGet413AndTheConnectionStaysUsable() throws Exception {
        HttpApiServer small = start(settings(ADMIN, 1024, Duration.ofSeconds(5), 10), SECRET);
        small.bindReceiver(core);
        String big = "{\"to\":\"bob\",\"text\":\"" + "x".repeat(5000) + "\"}";
        assertError(send(small, "POST", "/v1/messages", big, ADMIN), 413, "BODY_TOO_LARGE");
        assertEquals(200, send(small, "POST", "/v1/messages", "{\"to\":\"bob\",\"text\":\"x\"}", ADMIN).statusCode());
    }

    @Test
    void aCoreThatDoesNotAnswerIsA504() throws Exception {
        HttpApiServer impatient = start(settings(ADMIN, 4096, Duration.ofMillis(200), 10), SECRET);
        impatient.bindReceiver(core);
        HttpResponse<String> r = send(impatient, "POST", "/v1/messages",
                "{\"to\":\"bob\",\"type\":\"blackhole\",\"body\":{\"type_url\":\"t\"}}", ADMIN);
        assertError(r, 504, "TIMEOUT");
        assertTrue(json(r).get("error").get("retryable").asBoolean());
        assertEquals(0, impatient.callsInFlight());
    }

    @Test
    void callsWaitingOnACoreThatGoesAwayFailAtOnce() throws Exception {
        CompletableFuture<HttpResponse<String>> pending = client.sendAsync(request("POST", "/v1/messages",
                "{\"to\":\"bob\",\"type\":\"blackhole\",\"body\":{\"type_url\":\"t\"}}", ADMIN).build(),
                HttpResponse.BodyHandlers.ofString());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.callsInFlight() == 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(1, server.callsInFlight());
        server.unbindReceiver(core);
        HttpResponse<String> r = pending.get(2, TimeUnit.SECONDS); // well before the 5 s request timeout
        assertError(r, 503, "UNAVAILABLE");
        assertEquals(0, server.callsInFlight());
    }

    // ------------------------------------------------------------------------------------------------ reading

    @Test
    void historyAndConversationListAreReadAsTheNamedUser() throws Exception {
        for (int i = 1; i <= 3; i++) {
            post("/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"m" + i + "\"}");
        }
        JsonNode all = json(get("/v1/conversations/d:alice:bob/messages?user=bob"));
        assertEquals("d:alice:bob", all.get("conversation").asText());
        assertEquals(3, all.get("messages").size());
        JsonNode first = all.get("messages").get(0);
        assertEquals("m1", first.get("text").asText());
        assertEquals(ProtoMapping.TEXT_TYPE_URL, first.get("body").get("type_url").asText());
        assertEquals("alice", first.get("sender").asText());
        assertEquals("http-api", first.get("sender_device").asText());
        assertFalse(all.get("has_more").asBoolean());

        JsonNode page = json(get("/v1/conversations/d%3Aalice%3Abob/messages?user=alice&from_seq=2&limit=1"));
        assertEquals(1, page.get("messages").size());
        assertEquals(2, page.get("messages").get(0).get("seq").asLong());
        assertTrue(page.get("has_more").asBoolean());

        assertError(get("/v1/conversations/d:alice:bob/messages?user=carol"), 404, "NOT_FOUND");
        assertMessage(get("/v1/conversations/d:alice:bob/messages"), 400, "user is required");
        assertMessage(get("/v1/conversations/d:alice:bob/messages?user=bob&limit=-1"), 400, "non-negative");
        assertMessage(get("/v1/conversations/d:alice:bob/messages?user=bob&from_seq=x"), 400, "from_seq");

        JsonNode list = json(get("/v1/users/bob/conversations"));
        assertEquals("bob", list.get("user").asText());
        JsonNode c = list.get("conversations").get(0);
        assertEquals("d:alice:bob", c.get("conversation").asText());
        assertEquals("alice", c.get("title").asText());
        assertEquals(3, c.get("head").asLong());
        assertEquals(3, c.get("unread").asLong());
        assertEquals("m3", c.get("last").get("text").asText());
        assertEquals(0, json(get("/v1/users/carol/conversations")).get("conversations").size());
    }

    // ------------------------------------------------------------------------------------------------ groups

    @Test
    void groupLifecycle() throws Exception {
        JsonNode created = json(post("/v1/groups",
                "{\"owner\":\"alice\",\"name\":\"Team\",\"members\":[\"bob\"],\"client_request_id\":\"g-1\"}"));
        JsonNode group = created.get("group");
        String id = group.get("id").asText();
        assertEquals("g:" + id, group.get("conversation").asText());
        assertEquals("Team", group.get("name").asText());
        assertEquals("owner", group.get("members").get(0).get("role").asText());
        assertEquals(1, created.get("event_seq").asLong());

        String base = "/v1/groups/" + id;
        assertEquals(3, json(post(base + "/members", "{\"actor\":\"alice\",\"users\":[\"carol\"]}"))
                .get("group").get("members").size());
        assertError(post(base + "/members", "{\"actor\":\"carol\",\"users\":[\"dave\"]}"), 403, "FORBIDDEN");
        assertMessage(post(base + "/members", "{\"actor\":\"alice\",\"users\":[]}"), 400, "at least one user");
        assertEquals("Team", json(get(base + "?user=bob")).get("group").get("name").asText());
        assertError(get(base + "?user=mallory"), 404, "NOT_FOUND");
        assertError(get("/v1/groups/nosuch?user=bob"), 404, "NOT_FOUND");

        JsonNode role = json(post(base + "/roles", "{\"actor\":\"alice\",\"user\":\"bob\",\"role\":\"admin\"}"));
        assertEquals("admin", member(role, "bob").get("role").asText());
        assertMessage(post(base + "/roles", "{\"actor\":\"alice\",\"user\":\"bob\",\"role\":\"owner\"}"), 400, "role must be");
        JsonNode muted = json(post(base + "/mute", "{\"actor\":\"bob\",\"user\":\"carol\",\"until\":1900000000000}"));
        assertEquals(1_900_000_000_000L, member(muted, "carol").get("muted_until").asLong());
        assertTrue(json(post(base + "/mute-all", "{\"actor\":\"alice\",\"muted\":true}")).get("group").get("muted_all").asBoolean());
        assertMessage(post(base + "/mute-all", "{\"actor\":\"alice\"}"), 400, "muted");
        JsonNode transferred = json(post(base + "/transfer", "{\"actor\":\"alice\",\"new_owner\":\"bob\"}"));
        assertEquals("owner", member(transferred, "bob").get("role").asText());
        assertEquals("admin", member(transferred, "alice").get("role").asText());
        JsonNode left = json(post(base + "/leave", "{\"user\":\"alice\"}"));
        assertTrue(member(left, "alice") == null);
        JsonNode removed = json(call("DELETE", base + "/members/carol?actor=bob", null, ADMIN));
        assertEquals(1, removed.get("group").get("members").size());
        assertMessage(call("DELETE", base + "?client_request_id=x", null, ADMIN), 400, "actor is required");
        JsonNode dissolved = json(call("DELETE", base + "?actor=bob", null, ADMIN));
        assertTrue(dissolved.get("group").get("dissolved").asBoolean());

        JsonNode events = json(get("/v1/conversations/g:" + id + "/messages?user=bob")).get("messages");
        List<String> kinds = new ArrayList<>();
        events.forEach(m -> kinds.add(m.get("group_event").get("kind").asText()));
        assertEquals(List.of("created", "members_added", "role_changed", "member_muted", "group_muted",
                "owner_changed", "member_left", "members_removed", "dissolved"), kinds);
        assertEquals("Team", events.get(0).get("group_event").get("name").asText());
    }

    // ------------------------------------------------------------------------------------------------ tokens

    @Test
    void mintsTokensTheAuthenticatorAccepts() throws Exception {
        long before = System.currentTimeMillis();
        JsonNode r = json(post("/v1/tokens", "{\"user\":\"alice\",\"device\":\"phone-1\",\"ttl_seconds\":120}"));
        Principal p = new JwtTokens(SECRET.getBytes(StandardCharsets.UTF_8), "parley").verify(r.get("token").asText(), "phone-1");
        assertEquals("alice", p.userId());
        // the token's exp; the principal lasts the clock skew longer
        assertEquals(p.expiresAt().minus(JwtTokens.DEFAULT_CLOCK_SKEW).toEpochMilli(), r.get("expires_at").asLong());
        assertTrue(r.get("expires_at").asLong() >= before - 1000 + 120_000);
        assertEquals("phone-1", r.get("device").asText());

        JsonNode any = json(post("/v1/tokens", "{\"user\":\"bob\"}"));
        assertFalse(any.has("device"));
        assertTrue(any.get("expires_at").asLong() > before + Duration.ofHours(23).toMillis());

        assertMessage(post("/v1/tokens", "{\"user\":\"alice\",\"ttl_seconds\":0}"), 400, "ttl_seconds");
        assertMessage(post("/v1/tokens", "{\"user\":\"alice\",\"ttl_seconds\":99999999}"), 400, "ttl_seconds");
        assertMessage(post("/v1/tokens", "{\"user\":\"alice\",\"ttl_seconds\":1.5}"), 400, "ttl_seconds");
        assertMessage(post("/v1/tokens", "{\"user\":\"bad user\"}"), 400, "invalid user id");
        assertMessage(post("/v1/tokens", "{}"), 400, "user is required");

        HttpApiServer noSecret = start(settings(ADMIN, 4096, Duration.ofSeconds(5), 10), "");
        assertMessage(send(noSecret, "POST", "/v1/tokens", "{\"user\":\"alice\"}", ADMIN), 503, "parley.auth.jwt.cfg");
    }

    // ------------------------------------------------------------------------------------------------ connections

    @Test
    void pipelinedRequestsAreAnsweredInOrderOnOneConnection() throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.localAddress().getPort())) {
            s.setSoTimeout(5000);
            String body1 = "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"one\"}";
            String body2 = "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"two\"}";
            OutputStream out = s.getOutputStream();
            out.write((raw("POST", "/v1/messages", body1) + raw("GET", "/health", null)
                    + raw("POST", "/v1/messages", body2)).getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertTrue(readResponse(in).contains("\"seq\":1"));
            assertTrue(readResponse(in).contains("\"status\":\"UP\""));
            assertTrue(readResponse(in).contains("\"seq\":2"));
        }
    }

    @Test
    void hundredsOfRequestsPipelinedInOneWriteAreAllAnsweredInOrder() throws Exception {
        // more than fit one read, and more than Netty's default pipeline depth (128) in each read
        int gets = 1500;
        int posts = 150;
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < gets; i++) {
            all.append("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
        }
        for (int i = 1; i <= posts; i++) {
            all.append(raw("POST", "/v1/messages", "{\"from\":\"carol\",\"to\":\"dave\",\"text\":\"p" + i
                    + "\",\"client_msg_id\":\"p" + i + "\"}"));
        }
        try (Socket s = new Socket("127.0.0.1", server.localAddress().getPort())) {
            s.setSoTimeout(10_000);
            CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
                try {
                    s.getOutputStream().write(all.toString().getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (int i = 0; i < gets; i++) {
                String answer = readResponse(in);
                assertTrue(answer.startsWith("HTTP/1.1 200"), "answer " + i + ": " + answer);
            }
            for (int i = 1; i <= posts; i++) {
                String answer = readResponse(in);
                assertTrue(answer.matches("(?s).*\"seq\":" + i + "[,}].*"), "post " + i + ": " + answer);
            }
            writing.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void malformedAndOversizedRequestLinesAreRefusedAndClosed() throws Exception {
        assertEquals("HTTP/1.1 414", rawExchange("GET /v1/" + "x".repeat(10_000) + " HTTP/1.1\r\nHost: h\r\n\r\n")
                .substring(0, 12));
        assertEquals("HTTP/1.1 431", rawExchange("GET /health HTTP/1.1\r\nHost: h\r\nX-Big: "
                + "y".repeat(10_000) + "\r\n\r\n").substring(0, 12));
        String bad = rawExchange("GET /health HTTP/1.1\r\nHost: h\r\nContent-Length: nope\r\n\r\n");
        assertEquals("HTTP/1.1 400", bad.substring(0, 12), bad);
        assertTrue(bad.contains("malformed HTTP request"), bad);
    }

    @Test
    void requestsSentBeforeAHalfCloseAreAllAnsweredThenTheConnectionCloses() throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.localAddress().getPort())) {
            s.setSoTimeout(5000);
            StringBuilder all = new StringBuilder();
            for (int i = 1; i <= 200; i++) {
                all.append(raw("POST", "/v1/messages", "{\"from\":\"erin\",\"to\":\"fay\",\"text\":\"h" + i
                        + "\",\"client_msg_id\":\"h" + i + "\"}"));
            }
            s.getOutputStream().write(all.toString().getBytes(StandardCharsets.UTF_8));
            s.shutdownOutput();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (int i = 1; i <= 200; i++) {
                String answer = readResponse(in);
                assertTrue(answer.matches("(?s).*\"seq\":" + i + "[,}].*"), "post " + i + ": " + answer);
            }
            assertEquals(-1, in.read(), "closed once everything is answered");
        }
        try (Socket idle = new Socket("127.0.0.1", server.localAddress().getPort())) {
            idle.setSoTimeout(5000);
            idle.shutdownOutput();
            assertEquals(-1, idle.getInputStream().read(), "a half-close with nothing asked closes at once");
        }
    }

    @Test
    void aTransferCodingOtherThanChunkedIsNotImplemented() throws Exception {
        String answer = rawExchange("POST /v1/messages HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + ADMIN
                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
        assertEquals("HTTP/1.1 501", answer.substring(0, 12), answer);
        assertTrue(answer.contains("only chunked"), answer);
    }

    private String rawExchange(String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.localAddress().getPort())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
            String answer = readResponse(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)));
            assertTrue(answer.toLowerCase().contains("connection: close"), answer);
            assertEquals(-1, s.getInputStream().read(), "closed after the answer");
            return answer;
        }
    }

    @Test
    void connectionsOverTheLimitAreRefusedWith503WhenEveryOpenOneIsAuthenticated() throws Exception {
        HttpApiServer one = start(settings(ADMIN, 4096, Duration.ofSeconds(5), 1), SECRET);
        one.bindReceiver(core);
        try (Socket first = new Socket("127.0.0.1", one.localAddress().getPort())) {
            first.setSoTimeout(5000);
            // the first connection presents the admin token: it keeps its slot
            first.getOutputStream().write(raw("GET", "/v1/users/alice/conversations", null)
                    .getBytes(StandardCharsets.UTF_8));
            BufferedReader firstIn = new BufferedReader(new InputStreamReader(first.getInputStream(),
                    StandardCharsets.UTF_8));
            String firstAnswer = readResponse(firstIn);
            assertTrue(firstAnswer.startsWith("HTTP/1.1 200"), firstAnswer);
            try (Socket second = new Socket("127.0.0.1", one.localAddress().getPort())) {
                second.setSoTimeout(5000);
                second.getOutputStream().write(raw("GET", "/health", null).getBytes(StandardCharsets.UTF_8));
                String answer = readResponse(new BufferedReader(new InputStreamReader(second.getInputStream(),
                        StandardCharsets.UTF_8)));
                assertTrue(answer.startsWith("HTTP/1.1 503"), answer);
                assertTrue(answer.contains("max.connections"), answer);
            }
            // the authenticated connection still works
            first.getOutputStream().write(raw("GET", "/health", null).getBytes(StandardCharsets.UTF_8));
            assertTrue(readResponse(firstIn).startsWith("HTTP/1.1 200"));
        }
    }

    // ------------------------------------------------------------------------------------------------ web client files

    @Test
    void servesTheWebClientsFilesWithoutTheAdminTokenAndRevalidates(@TempDir Path web) throws Exception {
        Files.writeString(web.resolve("index.html"), "<!doctype html><title>Parley</title>");
        Files.createDirectories(web.resolve("assets"));
        Files.writeString(web.resolve("assets/app.js"), "console.log('hi')");
        Files.writeString(web.resolve(".secret"), "hidden");
        Files.writeString(web.getParent().resolve("outside.txt"), "outside the root");
        HttpApiServer files = start(webSettings(web), SECRET);
        files.bindReceiver(core);

        HttpResponse<String> index = send(files, "GET", "/", null, null);
        assertEquals(200, index.statusCode());
        assertEquals("<!doctype html><title>Parley</title>", index.body());
        assertEquals("text/html; charset=utf-8", index.headers().firstValue("content-type").orElse(""));
        assertEquals("nosniff", index.headers().firstValue("x-content-type-options").orElse(""));
        assertTrue(index.headers().firstValue("content-security-policy").orElse("").contains("default-src 'self'"));
        String etag = index.headers().firstValue("etag").orElseThrow();
        assertEquals(200, send(files, "GET", "/index.html", null, null).statusCode());

        HttpResponse<String> js = send(files, "GET", "/assets/app.js", null, null);
        assertEquals("text/javascript; charset=utf-8", js.headers().firstValue("content-type").orElse(""));
        assertEquals("console.log('hi')", js.body());

        HttpResponse<String> notModified = client.send(request(files, "GET", "/", null, null)
                .header("If-None-Match", etag).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(304, notModified.statusCode());
        assertEquals("", notModified.body());

        // a redeployed file is served at once, under a new validator
        Files.writeString(web.resolve("index.html"), "<!doctype html><title>Parley 2</title>");
        Files.setLastModifiedTime(web.resolve("index.html"), FileTime.fromMillis(System.currentTimeMillis() + 5000));
        HttpResponse<String> fresh = client.send(request(files, "GET", "/", null, null)
                .header("If-None-Match", etag).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, fresh.statusCode());
        assertEquals("<!doctype html><title>Parley 2</title>", fresh.body());

        HttpResponse<String> head = send(files, "HEAD", "/assets/app.js", null, null);
        assertEquals(200, head.statusCode());
        assertEquals("17", head.headers().firstValue("content-length").orElse(""));

        for (String bad : List.of("/missing.js", "/.secret", "/assets")) {
            assertError(send(files, "GET", bad, null, null), 404, "NOT_FOUND");
        }
        // ambiguous paths are refused before any file is looked up
        for (String bad : List.of("/assets/../../outside.txt", "/%2e%2e/outside.txt", "/assets/%2e%2e/%2e%2e/outside.txt",
                "/assets%5c..%5coutside.txt", "/index.html%00.js", "/assets%2F..%2F..%2Foutside.txt")) {
            assertError(send(files, "GET", bad, null, null), 400, "INVALID_REQUEST");
        }
        // a body outside /v1 is refused from the request's head, before it is read
        assertMessage(send(files, "POST", "/index.html", "{}", null), 400, "takes no request body");
        HttpResponse<String> post = send(files, "DELETE", "/index.html", null, null);
        assertError(post, 405, "METHOD_NOT_ALLOWED");
        assertEquals("GET, HEAD", post.headers().firstValue("allow").orElse(""));
        // the API is unchanged beside the files
        assertError(send(files, "GET", "/v1/nothing-here", null, null), 401, "UNAUTHENTICATED");
        assertEquals(200, send(files, "GET", "/health", null, null).statusCode());
        assertEquals(web.toRealPath(), files.webRoot());
    }

    @Test
    void withoutAWebRootNoFilesAreServed(@TempDir Path missing) throws Exception {
        HttpApiServer none = start(webSettings(missing.resolve("no-such-dir")), SECRET);
        none.bindReceiver(core);
        assertNull(none.webRoot());
        assertError(send(none, "GET", "/", null, null), 404, "NOT_FOUND");
        assertEquals(200, send(none, "GET", "/health", null, null).statusCode());
    }

    private static HttpApiSettings webSettings(Path web) {
        HttpApiSettings base = settings(ADMIN, 4096, Duration.ofSeconds(5), 10);
        return new HttpApiSettings(base.server(), base.adminToken(), base.maxBodyBytes(), base.maxHttpRequestBytes(),
                base.requestTimeout(), web);
    }

    @Test
    void stopLeavesNoThreadBehind(@TempDir Path web) throws Exception {
        assertEquals(200, call("GET", "/health", null, null).statusCode());
        Files.writeString(web.resolve("index.html"), "x");
        assertEquals(200, send(start(webSettings(web), SECRET), "GET", "/", null, null).statusCode());
        servers.forEach(HttpApiServer::stop);
        servers.clear();
        // an event loop signals its termination a moment before its thread exits: allow that moment, not a leak
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (httpThreadsAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(httpThreadsAlive(), "parley-http threads left");
    }

    private static boolean httpThreadsAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().startsWith("parley-http") && t.isAlive());
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static JsonNode member(JsonNode groupResult, String user) {
        for (JsonNode m : groupResult.get("group").get("members")) {
            if (m.get("user").asText().equals(user)) {
                return m;
            }
        }
        return null;
    }

    private String raw(String method, String path, String body) {
        byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        return method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + ADMIN
                + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\n\r\n"
                + (body == null ? "" : body);
    }

    /** Reads one response (status line, headers, Content-Length body) and returns it as text. */
    private static String readResponse(BufferedReader in) throws IOException {
        StringBuilder head = new StringBuilder();
        int length = 0;
        for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
            head.append(line).append('\n');
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        char[] body = new char[length];
        int read = 0;
        while (read < length) {
            int n = in.read(body, read, length - read);
            if (n < 0) {
                break;
            }
            read += n;
        }
        return head + "\n" + new String(body, 0, read);
    }

    private HttpResponse<String> get(String path) throws Exception {
        return call("GET", path, null, ADMIN);
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return call("POST", path, body, ADMIN);
    }

    private HttpResponse<String> call(String method, String path, String body, String token) throws Exception {
        return send(server, method, path, body, token);
    }

    private HttpResponse<String> send(HttpApiServer target, String method, String path, String body, String token)
            throws Exception {
        return client.send(request(target, method, path, body, token).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String method, String path, String body, String token) {
        return request(server, method, path, body, token);
    }

    private static HttpRequest.Builder request(HttpApiServer target, String method, String path, String body,
                                               String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + target.localAddress().getPort() + path))
                .timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", token.startsWith("Basic ") ? token : "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return b;
    }

    private JsonNode json(HttpResponse<String> r) throws IOException {
        return mapper.readTree(r.body());
    }

    private void assertError(HttpResponse<String> r, int status, String code) throws IOException {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals(code, json(r).get("error").get("code").asText(), r.body());
    }

    private void assertMessage(HttpResponse<String> r, int status, String fragment) throws IOException {
        assertEquals(status, r.statusCode(), r.body());
        String message = json(r).get("error").get("message").asText();
        assertTrue(message.contains(fragment), "'" + message + "' should contain '" + fragment + "'");
    }
}
