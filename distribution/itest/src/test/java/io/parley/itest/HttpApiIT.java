package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP JSON API of the assembled server, end to end: every endpoint over real HTTP against the real engine and
 * store, its refusals (admin token, malformed JSON, methods, sizes), its interplay with TCP clients (an API send is
 * delivered, an API-minted token logs in), and that {@code /v1/openapi.yaml} lists exactly the implemented
 * operations. Needs the distribution to ship {@code deploy/parley-transport-http.jar}, the Jackson bundles in
 * {@code system/} and {@code conf/parley.transport.http.cfg}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HttpApiIT {
    static final String ADMIN = "itest-admin-token-0123456789abcdef";
    /** Every operation the API implements; the OpenAPI document must list exactly these. */
    static final Set<String> OPERATIONS = Set.of(
            "GET /health", "GET /v1/openapi.yaml", "POST /v1/messages", "GET /v1/conversations/{conversation}/messages",
            "GET /v1/users/{user}/conversations", "POST /v1/tokens", "GET /v1/types", "POST /v1/groups", "GET /v1/groups/{group}",
            "DELETE /v1/groups/{group}", "POST /v1/groups/{group}/members", "DELETE /v1/groups/{group}/members/{user}",
            "POST /v1/groups/{group}/leave", "POST /v1/groups/{group}/roles", "POST /v1/groups/{group}/mute",
            "POST /v1/groups/{group}/mute-all", "POST /v1/groups/{group}/transfer", "POST /v1/commands/{type}",
            "POST /v1/users/{user}/kick",
            "GET /metrics", "GET /health/live", "GET /health/ready",
            "GET /v1/sessions", "GET /v1/stores", "GET /v1/stats", "GET /v1/bundles", "PUT /v1/bundles/{name}",
            "DELETE /v1/bundles/{name}");

    @TempDir
    static Path work;
    static ServerProcess server;
    static int httpPort;
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final Set<String> exercised = new TreeSet<>();
    static final List<ParleyClient> clients = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        server = new ServerProcess(work);
        httpPort = server.httpPort;
        Path cfg = server.home.resolve("conf/parley.transport.http.cfg");
        ServerProcess.setKey(cfg, "admin.token", ADMIN);
        ServerProcess.setKey(cfg, "max.body.bytes", "65536");
        server.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> health = http.send(HttpRequest.newBuilder(uri("/health")).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (health.statusCode() == 200) {
                    return;
                }
                last = health.statusCode() + " " + health.body();
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("HTTP API not healthy within 30 s: " + last + "; see " + server.home.resolve("logs"));
    }

    @AfterAll
    static void stop() throws Exception {
        clients.forEach(ParleyClient::close);
        if (server != null) {
            server.close();
        }
    }

    @Test
    @Order(1)
    void healthIsOpenAndUp() throws Exception {
        Reply r = call("GET", "/health", null, null);
        assertEquals(200, r.status);
        assertEquals("UP", r.json().get("status"));
    }

    @Test
    @Order(2)
    void refusesWithoutTheAdminTokenAndExplainsBadRequests() throws Exception {
        assertError(call("POST", "/v1/messages", "{\"to\":\"bob\",\"text\":\"x\"}", null), 401, "UNAUTHENTICATED");
        assertError(call("POST", "/v1/messages", "{\"to\":\"bob\",\"text\":\"x\"}", ADMIN + "-wrong"), 401, "UNAUTHENTICATED");
        assertError(call("GET", "/v1/secret-path", null, null), 401, "UNAUTHENTICATED");
        assertError(call("GET", "/v1/secret-path", null, ADMIN), 404, "NOT_FOUND");
        Reply wrongMethod = call("DELETE", "/v1/messages", null, ADMIN);
        assertError(wrongMethod, 405, "METHOD_NOT_ALLOWED");
        assertEquals("POST", wrongMethod.headers.firstValue("allow").orElse(""));
        assertMessage(call("POST", "/v1/messages", "{\"to\":\"bob\",", ADMIN), 400, "malformed JSON");
        assertMessage(call("POST", "/v1/messages", "{\"too\":\"bob\",\"text\":\"x\"}", ADMIN), 400, "unknown field 'too'");
        assertMessage(call("POST", "/v1/messages", "not json", ADMIN), 400, "malformed JSON");
        assertError(call("POST", "/v1/messages", "{\"to\":\"bob\",\"text\":\"" + "x".repeat(100_000) + "\"}", ADMIN),
                413, "BODY_TOO_LARGE");
    }

    @Test
    @Order(3)
    void messagesSentThroughTheApiAreStoredOnceAndDelivered() throws Exception {
        LinkedBlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient bob = connect("bob", "bob-phone", bobInbox);

        Map<String, Object> ack = ok(call("POST", "/v1/messages",
                "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hello from the app server\",\"client_msg_id\":\"api-1\"}", ADMIN));
        assertEquals("d:alice:bob", ack.get("conversation"));
        assertEquals(1L, ack.get("seq"));
        assertEquals(false, ack.get("duplicate"));
        Message delivered = bobInbox.poll(10, TimeUnit.SECONDS);
        assertNotNull(delivered, "bob's device got the message");
        assertEquals("hello from the app server", Bodies.textOf(delivered));
        assertEquals("alice", delivered.getSender());
        assertEquals(ack.get("message_id"), delivered.getId());

        Map<String, Object> again = ok(call("POST", "/v1/messages",
                "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hello from the app server\",\"client_msg_id\":\"api-1\"}", ADMIN));
        assertEquals(true, again.get("duplicate"));
        assertEquals(ack.get("message_id"), again.get("message_id"));

        // bob answers over TCP; the API then reads the whole conversation
        SendAck reply = bob.sendText("alice", "hi alice").get(10, TimeUnit.SECONDS);
        assertEquals(2, reply.getSeq());

        String body = Base64.getEncoder().encodeToString(Bodies.text("as a raw body").getValue().toByteArray());
        Map<String, Object> raw = ok(call("POST", "/v1/messages", "{\"from\":\"alice\",\"conversation\":\"d:alice:bob\","
                + "\"type\":\"text\",\"body\":{\"type_url\":\"" + Bodies.TEXT_TYPE_URL + "\",\"value_base64\":\"" + body + "\"},"
                + "\"ext\":{\"source\":\"crm\"}}", ADMIN));
        assertEquals(3L, raw.get("seq"));
        Message rawDelivered = bobInbox.poll(10, TimeUnit.SECONDS);
        assertNotNull(rawDelivered);
        assertEquals("as a raw body", Bodies.textOf(rawDelivered));
        assertEquals("crm", rawDelivered.getExtOrThrow("source"));

        Map<String, Object> system = ok(call("POST", "/v1/messages", "{\"to\":\"bob\",\"text\":\"maintenance at 2am\"}", ADMIN));
        assertEquals("d:bob:system", system.get("conversation"));
        Message notice = bobInbox.poll(10, TimeUnit.SECONDS);
        assertNotNull(notice);
        assertEquals("system", notice.getSender());
        assertEquals("maintenance at 2am", Bodies.textOf(notice));

        assertError(call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"poll\","
                + "\"body\":{\"type_url\":\"type.googleapis.com/acme.Poll\",\"value_base64\":\"\"}}", ADMIN), 422, "UNSUPPORTED_TYPE");
        assertError(call("POST", "/v1/messages", "{\"from\":\"mallory\",\"conversation\":\"d:alice:bob\",\"text\":\"x\"}", ADMIN),
                404, "NOT_FOUND");
        assertError(call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"   \"}", ADMIN),
                400, "INVALID_BODY");
        assertError(call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"" + "y".repeat(40_000) + "\"}",
                ADMIN), 413, "BODY_TOO_LARGE");
        assertMessage(call("POST", "/v1/messages", "{\"from\":\"not valid!\",\"to\":\"bob\",\"text\":\"x\"}", ADMIN),
                400, "invalid user id");
    }

    @Test
    @Order(4)
    void historyAndConversationListAreTheEngines() throws Exception {
        Map<String, Object> page = ok(call("GET", "/v1/conversations/{conversation}/messages",
                "/v1/conversations/d:alice:bob/messages?user=bob&limit=2", null, ADMIN));
        List<Object> messages = list(page.get("messages"));
        assertEquals(2, messages.size());
        assertEquals(true, page.get("has_more"));
        Map<String, Object> first = map(messages.get(0));
        assertEquals("hello from the app server", first.get("text"));
        assertEquals("http-api", first.get("sender_device"));
        assertEquals("hi alice", map(messages.get(1)).get("text"));

        Map<String, Object> rest = ok(call("GET", "/v1/conversations/{conversation}/messages",
                "/v1/conversations/d%3Aalice%3Abob/messages?user=alice&from_seq=3", null, ADMIN));
        Map<String, Object> third = map(list(rest.get("messages")).get(0));
        assertEquals(3L, third.get("seq"));
        assertEquals("as a raw body", third.get("text"));
        assertEquals(Map.of("source", "crm"), third.get("ext"));
        assertEquals(false, rest.get("has_more"));

        assertError(call("GET", "/v1/conversations/{conversation}/messages",
                "/v1/conversations/d:alice:bob/messages?user=mallory", null, ADMIN), 404, "NOT_FOUND");
        assertMessage(call("GET", "/v1/conversations/{conversation}/messages",
                "/v1/conversations/d:alice:bob/messages", null, ADMIN), 400, "user is required");

        Map<String, Object> bobs = ok(call("GET", "/v1/users/{user}/conversations", "/v1/users/bob/conversations", null, ADMIN));
        Map<String, Map<String, Object>> byId = new LinkedHashMap<>();
        list(bobs.get("conversations")).forEach(c -> byId.put((String) map(c).get("conversation"), map(c)));
        assertEquals(Set.of("d:alice:bob", "d:bob:system"), byId.keySet());
        Map<String, Object> withAlice = byId.get("d:alice:bob");
        assertEquals("alice", withAlice.get("title"));
        assertEquals(3L, withAlice.get("head"));
        assertEquals(0L, withAlice.get("read_seq"));
        assertEquals(2L, withAlice.get("unread"), "alice's two messages; bob's own (seq 2) is never unread");
        assertEquals("maintenance at 2am", map(byId.get("d:bob:system").get("last")).get("text"));
    }

    @Test
    @Order(5)
    void groupsAreManagedThroughTheEngine() throws Exception {
        Map<String, Object> created = ok(call("POST", "/v1/groups", "{\"owner\":\"alice\",\"name\":\"Launch\","
                + "\"members\":[\"bob\",\"carol\"],\"client_request_id\":\"launch-1\"}", ADMIN));
        Map<String, Object> group = map(created.get("group"));
        String id = (String) group.get("id");
        assertEquals("g:" + id, group.get("conversation"));
        assertEquals("owner", role(created, "alice"));
        Map<String, Object> repeated = ok(call("POST", "/v1/groups", "{\"owner\":\"alice\",\"name\":\"Launch\","
                + "\"members\":[\"bob\",\"carol\"],\"client_request_id\":\"launch-1\"}", ADMIN));
        assertEquals(id, map(repeated.get("group")).get("id"), "same client_request_id, same group");

        String g = "/v1/groups/" + id;
        assertEquals("member", role(ok(call("POST", "/v1/groups/{group}/members", g + "/members",
                "{\"actor\":\"alice\",\"users\":[\"dave\"]}", ADMIN)), "dave"));
        assertError(call("POST", "/v1/groups/{group}/members", g + "/members", "{\"actor\":\"bob\",\"users\":[\"erin\"]}", ADMIN),
                403, "FORBIDDEN");
        assertEquals("Launch", map(ok(call("GET", "/v1/groups/{group}", g + "?user=carol", null, ADMIN)).get("group")).get("name"));
        // a non-member gets what a missing group answers: existence does not leak
        assertError(call("GET", "/v1/groups/{group}", g + "?user=mallory", null, ADMIN), 404, "NOT_FOUND");
        assertError(call("GET", "/v1/groups/{group}", "/v1/groups/no-such-group?user=alice", null, ADMIN), 404, "NOT_FOUND");

        assertEquals("admin", role(ok(call("POST", "/v1/groups/{group}/roles", g + "/roles",
                "{\"actor\":\"alice\",\"user\":\"bob\",\"role\":\"admin\"}", ADMIN)), "bob"));
        long until = System.currentTimeMillis() + 3_600_000;
        Map<String, Object> muted = ok(call("POST", "/v1/groups/{group}/mute", g + "/mute",
                "{\"actor\":\"bob\",\"user\":\"carol\",\"until\":" + until + "}", ADMIN));
        assertEquals(until, member(muted, "carol").get("muted_until"));
        assertError(call("POST", "/v1/messages", "{\"from\":\"carol\",\"conversation\":\"g:" + id + "\",\"text\":\"hi\"}", ADMIN),
                403, "FORBIDDEN");
        assertEquals(true, map(ok(call("POST", "/v1/groups/{group}/mute-all", g + "/mute-all",
                "{\"actor\":\"alice\",\"muted\":true}", ADMIN)).get("group")).get("muted_all"));
        ok(call("POST", "/v1/groups/{group}/mute-all", g + "/mute-all", "{\"actor\":\"alice\",\"muted\":false}", ADMIN));
        Map<String, Object> sent = ok(call("POST", "/v1/messages",
                "{\"from\":\"dave\",\"conversation\":\"g:" + id + "\",\"text\":\"hello group\"}", ADMIN));
        assertEquals("g:" + id, sent.get("conversation"));

        Map<String, Object> transferred = ok(call("POST", "/v1/groups/{group}/transfer", g + "/transfer",
                "{\"actor\":\"alice\",\"new_owner\":\"bob\"}", ADMIN));
        assertEquals("owner", role(transferred, "bob"));
        assertEquals("admin", role(transferred, "alice"));
        Map<String, Object> left = ok(call("POST", "/v1/groups/{group}/leave", g + "/leave", "{\"user\":\"alice\"}", ADMIN));
        assertEquals(null, member(left, "alice"));
        Map<String, Object> removed = ok(call("DELETE", "/v1/groups/{group}/members/{user}", g + "/members/dave?actor=bob",
                null, ADMIN));
        assertEquals(null, member(removed, "dave"));
        assertError(call("DELETE", "/v1/groups/{group}", g + "?actor=carol", null, ADMIN), 403, "FORBIDDEN");
        Map<String, Object> dissolved = ok(call("DELETE", "/v1/groups/{group}", g + "?actor=bob", null, ADMIN));
        assertEquals(true, map(dissolved.get("group")).get("dissolved"));

        List<String> kinds = new ArrayList<>();
        for (Object m : list(ok(call("GET", "/v1/conversations/{conversation}/messages",
                "/v1/conversations/g:" + id + "/messages?user=bob", null, ADMIN)).get("messages"))) {
            Map<String, Object> event = map(map(m).get("group_event"));
            kinds.add(event == null ? "text:" + map(m).get("text") : (String) event.get("kind"));
        }
        assertEquals(List.of("created", "members_added", "role_changed", "member_muted", "group_muted", "group_muted",
                "text:hello group", "owner_changed", "member_left", "members_removed", "dissolved"), kinds);
    }

    @Test
    @Order(6)
    void mintedTokensLogInOverTcp() throws Exception {
        Map<String, Object> minted = ok(call("POST", "/v1/tokens",
                "{\"user\":\"frank\",\"device\":\"frank-laptop\",\"ttl_seconds\":600}", ADMIN));
        long expiresAt = (Long) minted.get("expires_at");
        assertTrue(Math.abs(expiresAt - (System.currentTimeMillis() + 600_000)) < 5_000, "expires in 10 minutes");
        ParleyClient frank = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId("frank-laptop")
                .token((String) minted.get("token")).build();
        clients.add(frank);
        frank.connect().get(15, TimeUnit.SECONDS);
        assertEquals("frank", frank.session().getUserId());
        assertMessage(call("POST", "/v1/tokens", "{\"user\":\"frank\",\"ttl_seconds\":-5}", ADMIN), 400, "ttl_seconds");
        assertMessage(call("POST", "/v1/tokens", "{\"device\":\"x\"}", ADMIN), 400, "user is required");
    }

    @Test
    @Order(7)
    void aTypeDroppedIntoDeployIsUsableAsJsonWithNoChangeToTheApi() throws Exception {
        Map<String, Object> before = ok(call("GET", "/v1/types", null, ADMIN));
        Map<String, Object> text = typeNamed(before, "text");
        assertEquals("parley.text.v1.Text", text.get("body"));
        assertEquals("text", map(list(text.get("fields")).get(0)).get("name"));
        assertEquals(null, typeNamed(before, "emoji"), "emoji is an extra, not deployed yet");
        assertError(call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"emoji\","
                + "\"body\":{\"emoji\":\"\uD83D\uDC4D\"}}", ADMIN), 422, "UNSUPPORTED_TYPE");

        server.deploy(server.home.resolve("extras/parley-type-emoji.jar"), "parley-type-emoji.jar");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        Map<String, Object> emoji = null;
        while (emoji == null && System.nanoTime() < deadline) {
            Thread.sleep(100);
            emoji = typeNamed(ok(call("GET", "/v1/types", null, ADMIN)), "emoji");
        }
        assertTrue(emoji != null, "emoji listed after it was dropped into deploy/");
        assertEquals("type.googleapis.com/parley.emoji.v1.Emoji", emoji.get("type_url"));
        Map<String, Object> sent = ok(call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\","
                + "\"type\":\"emoji\",\"body\":{\"emoji\":\"\uD83D\uDC4D\"},\"client_msg_id\":\"json-emoji-1\"}", ADMIN));
        long seq = (Long) sent.get("seq");
        Map<String, Object> page = ok(call("GET", "/v1/conversations/{conversation}/messages",
                "/v1/conversations/d:alice:bob/messages?user=bob&from_seq=" + seq, null, ADMIN));
        Map<String, Object> stored = map(list(page.get("messages")).get(0));
        assertEquals("emoji", stored.get("type"));
        assertEquals("\uD83D\uDC4D", map(stored.get("content")).get("emoji"), "the body as JSON, via the catalog");
        assertMessage(call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"emoji\","
                + "\"body\":{\"emoji\":5}}", ADMIN), 400, "body.emoji must be a string");
        server.undeploy("parley-type-emoji.jar");
    }

    /** Any deployed command runs through the API as a trusted call: here the recall, for the acting user. */
    @Test
    @Order(8)
    void aDeployedCommandRunsThroughTheCommandEndpoint() throws Exception {
        Map<String, Object> types = ok(call("GET", "/v1/types", null, ADMIN));
        Map<String, Object> recall = null;
        for (Object c : list(types.get("commands"))) {
            if ("recall".equals(map(c).get("type"))) {
                recall = map(c);
            }
        }
        assertTrue(recall != null, "recall listed among the commands: " + types.get("commands"));
        assertEquals("parley.recall.v1.Recall", recall.get("payload"));
        long seq = (Long) ok(call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"oops\","
                + "\"client_msg_id\":\"cmd-recall-1\"}", ADMIN)).get("seq");
        String body = "{\"user\":\"alice\",\"payload\":{\"conversation\":\"d:alice:bob\",\"seq\":" + seq + "}}";
        assertError(call("POST", "/v1/commands/{type}", "/v1/commands/recall", body, null), 401, "UNAUTHENTICATED");
        assertError(call("POST", "/v1/commands/{type}", "/v1/commands/recall", body, "wrong-token-wrong-token-0"), 401,
                "UNAUTHENTICATED");
        assertMessage(call("POST", "/v1/commands/{type}", "/v1/commands/recall", "{\"user\":\"bob\",\"payload\":"
                + "{\"conversation\":\"d:alice:bob\",\"seq\":" + seq + "}}", ADMIN), 403, "sender");
        Map<String, Object> done = ok(call("POST", "/v1/commands/{type}", "/v1/commands/recall", body, ADMIN));
        assertEquals("recall", done.get("type"));
        assertEquals("alice", map(done.get("result")).get("recalledBy"));
        assertError(call("POST", "/v1/commands/{type}", "/v1/commands/no.such", "{}", ADMIN), 422, "UNSUPPORTED_COMMAND");
    }

    /** An operator signs a user out of one device: that device's client is told KICKED, the other device stays. */
    @Test
    @Order(9)
    void theKickEndpointSignsOutOneDeviceOrEveryDevice() throws Exception {
        LinkedBlockingQueue<io.parley.client.DisconnectReason> phone = new LinkedBlockingQueue<>();
        ParleyClient onPhone = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId("phone")
                .token(server.tokens().mint("kim", null, Duration.ofMinutes(30)))
                .connectionListener(new io.parley.client.ConnectionListener() {
                    @Override
                    public void onDisconnected(io.parley.client.DisconnectReason reason, boolean willRetry) {
                        phone.add(reason);
                    }
                }).build();
        clients.add(onPhone);
        onPhone.connect().get(15, TimeUnit.SECONDS);
        ParleyClient onLaptop = connect("kim", "laptop", new LinkedBlockingQueue<>());
        String path = "/v1/users/kim/kick";
        String template = "/v1/users/{user}/kick";
        String body = "{\"device\":\"phone\",\"reason\":\"lost phone\"}";
        assertError(call("POST", template, path, body, null), 401, "UNAUTHENTICATED");
        assertError(call("POST", template, path, body, ADMIN + "-wrong"), 401, "UNAUTHENTICATED");
        assertEquals(List.of(), List.copyOf(phone), "refused calls kick nobody");
        assertError(call("POST", template, path, "{\"device\":5}", ADMIN), 400, "INVALID_REQUEST");

        Map<String, Object> kicked = ok(call("POST", template, path, body, ADMIN));
        assertEquals("kim", kicked.get("user"));
        assertEquals(1L, ((Number) kicked.get("kicked")).longValue());
        assertEquals(io.parley.client.DisconnectReason.KICKED, phone.poll(10, TimeUnit.SECONDS));
        assertTrue(onLaptop.isConnected(), "the other device stays signed in");
        assertEquals(0L, ((Number) ok(call("POST", template, "/v1/users/nobody-here/kick", "{}", ADMIN))
                .get("kicked")).longValue(), "a user without sessions: nothing to end");
    }

    static Map<String, Object> typeNamed(Map<String, Object> types, String type) {
        for (Object t : list(types.get("types"))) {
            if (type.equals(map(t).get("type"))) {
                return map(t);
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------------ metrics, health

    /**
     * The meters count what this test does (deltas between two scrapes, so earlier tests do not matter), the dashboard
     * asks only for exported names, and readiness follows the store bundle leaving deploy/ and coming back.
     */
    /**
     * The administration endpoints answer the admin token only; with it they list this node's sessions, stores,
     * numbers and bundles. Installing, updating and removing bundles is exercised in DistributionHotSwapIT.
     */
    @Test
    @Order(94)
    void theAdministrationEndpointsAnswerTheAdminTokenOnly() throws Exception {
        String[][] ops = {{"GET", "/v1/sessions", "/v1/sessions"}, {"GET", "/v1/stores", "/v1/stores"},
                {"GET", "/v1/stats", "/v1/stats"}, {"GET", "/v1/bundles", "/v1/bundles"},
                {"PUT", "/v1/bundles/{name}", "/v1/bundles/io.parley.type.emoji"},
                {"DELETE", "/v1/bundles/{name}", "/v1/bundles/io.parley.type.text"}};
        for (String[] op : ops) {
            assertError(call(op[0], op[1], op[2], null, null), 401, "UNAUTHENTICATED");
            assertError(call(op[0], op[1], op[2], null, ADMIN + "-wrong"), 401, "UNAUTHENTICATED");
        }
        connect("ada", "desk", new LinkedBlockingQueue<>());
        Map<String, Object> sessions = ok(call("GET", "/v1/sessions", "/v1/sessions?user=ada", null, ADMIN));
        assertEquals(1, list(sessions.get("sessions")).size(), sessions.toString());
        assertEquals("desk", map(list(sessions.get("sessions")).get(0)).get("device"));
        Map<String, Object> stats = ok(call("GET", "/v1/stats", null, ADMIN));
        assertTrue(((Number) stats.get("users_online")).longValue() >= 1, stats.toString());
        assertTrue(call("GET", "/v1/stores", null, ADMIN).body().contains("\"in_use\":true"));
        assertTrue(call("GET", "/v1/bundles", null, ADMIN).body().contains("\"symbolic_name\":\"io.parley.core\""));
        assertError(call("PUT", "/v1/bundles/{name}", "/v1/bundles/io.parley.type.emoji", "{}", ADMIN), 415,
                "UNSUPPORTED_MEDIA_TYPE");
        assertError(call("DELETE", "/v1/bundles/{name}", "/v1/bundles/io.parley.core", null, ADMIN), 403,
                "SYSTEM_BUNDLE");
        assertError(call("DELETE", "/v1/bundles/{name}", "/v1/bundles/no.such.bundle", null, ADMIN), 404,
                "NOT_FOUND");
    }

    @Test
    @Order(95)
    void metricsCountWhatHappenedAndReadinessFollowsStoreAndTransports() throws Exception {
        // metrics.token is unset: /metrics takes the admin token, and nothing else
        assertError(call("GET", "/metrics", null, null), 401, "UNAUTHENTICATED");
        assertError(call("GET", "/metrics", null, ADMIN + "-wrong"), 401, "UNAUTHENTICATED");
        MetricsScrape before = scrape();
        String text = "parley_messages_sent_total{type=\"text\"}";
        String notFound = "parley_rejections_total{code=\"NOT_FOUND\"}";
        String tcp = "parley_connections_open{transport=\"tcp\"}";
        assertTrue(before.value(text) >= 3, "the earlier tests' texts are counted: " + before.value(text));

        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        connect("metrics-carol", "carol-phone", inbox);
        for (int i = 0; i < 3; i++) {
            ok(call("POST", "/v1/messages", "{\"from\":\"metrics-dave\",\"to\":\"metrics-carol\",\"text\":\"m" + i
                    + "\"}", ADMIN));
        }
        // refused by the core (eve is no member of the conversation)
        assertError(call("POST", "/v1/messages", "{\"from\":\"metrics-eve\",\"conversation\":\"d:metrics-carol:metrics-dave\","
                + "\"text\":\"x\"}", ADMIN), 404, "NOT_FOUND");
        MetricsScrape after = scrape();

        assertEquals(3.0, after.value(text) - before.value(text), "texts sent by this test");
        assertEquals(1.0, after.value(notFound) - before.value(notFound), "refusals by code");
        assertEquals(before.value(tcp) + 1, after.value(tcp), "carol's TCP connection");
        assertTrue(after.value("parley_sessions_logged_in") >= 1, after.text);
        assertEquals(3.0, after.value("parley_send_latency_seconds_count") - before.value("parley_send_latency_seconds_count"));
        assertEquals(3.0, after.value("parley_send_latency_seconds_bucket{le=\"+Inf\"}")
                - before.value("parley_send_latency_seconds_bucket{le=\"+Inf\"}"), "a Prometheus histogram");
        assertEquals(3.0, after.value("parley_store_commit_latency_seconds_count")
                - before.value("parley_store_commit_latency_seconds_count"));
        assertTrue(after.has("parley_engine_queue_depth{queue=\"workers\"}"), after.text);
        assertTrue(after.has("parley_hotswap_held"), after.text);
        for (String jvm : List.of("jvm_memory_used_bytes", "jvm_gc_memory_allocated_bytes_total", "jvm_threads_live_threads",
                "jvm_classes_loaded_classes", "process_cpu_usage")) {
            assertTrue(after.names().contains(jvm), jvm + " is exported");
        }
        // every metric the Grafana dashboard queries is exported (the channel meters: PushAndWebhooksIT)
        assertEquals(Set.of(), after.missingFrom(MetricsScrape.dashboard(), MetricsScrape.CHANNEL_ONLY),
                "dashboard metrics this server does not export");

        assertEquals(200, call("GET", "/health/live", null, null).status);
        assertEquals(200, call("GET", "/health/ready", null, null).status);

        // the store and the WebSocket transport leave deploy/: not ready (live still), ready again once they are back
        String store = java.nio.file.Files.readAllLines(server.home.resolve("conf/parley.core.cfg")).stream()
                .filter(l -> l.startsWith("store.target")).map(l -> l.replaceAll(".*parley.store.name=([a-z0-9-]+).*", "$1"))
                .findFirst().orElseThrow();
        String jar = "parley-store-" + store + ".jar";
        String ws = "parley-transport-websocket.jar";
        Path saved = work.resolve(jar);
        Path savedWs = work.resolve(ws);
        java.nio.file.Files.copy(server.home.resolve("deploy").resolve(jar), saved);
        java.nio.file.Files.copy(server.home.resolve("deploy").resolve(ws), savedWs);
        server.undeploy(jar);
        server.undeploy(ws);
        // FileInstall removes the two bundles in its own order, possibly in two scans: wait for both
        Reply down = awaitReady(503, "no message store", "websocket");
        assertEquals("DOWN", down.json().get("status"));
        assertEquals(List.of("no message store is running", "the websocket transport is not listening"),
                list(down.json().get("problems")));
        assertEquals(200, call("GET", "/health/live", null, null).status, "the engine itself is alive");
        server.deploy(saved, jar);
        server.deploy(savedWs, ws);
        assertEquals("UP", awaitReady(200, "").json().get("status"));
        ok(call("POST", "/v1/messages", "{\"from\":\"metrics-dave\",\"to\":\"metrics-carol\",\"text\":\"back\"}", ADMIN));

        // the metrics bundle is hot-swappable: gone, /metrics says so; back, the core reports to the new registry
        String metricsJar = "parley-metrics.jar";
        Path savedMetrics = work.resolve(metricsJar);
        java.nio.file.Files.copy(server.home.resolve("deploy").resolve(metricsJar), savedMetrics);
        server.undeploy(metricsJar);
        Reply gone = awaitMetrics(503);
        assertError(gone, 503, "UNAVAILABLE");
        assertTrue(gone.body.contains("no metrics bundle is deployed"), gone.body);
        server.deploy(savedMetrics, metricsJar);
        awaitMetrics(200);
        ok(call("POST", "/v1/messages", "{\"from\":\"metrics-dave\",\"to\":\"metrics-carol\",\"text\":\"again\"}", ADMIN));
        MetricsScrape fresh = scrape();
        assertEquals(1.0, fresh.value(text), "a new registry counts from its start:\n" + fresh.text);
        assertTrue(fresh.names().contains("jvm_memory_used_bytes"));
    }

    /** Polls {@code GET /metrics} (with the admin token) until it answers {@code status}. */
    static Reply awaitMetrics(int status) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Reply r;
        do {
            r = call("GET", "/metrics", null, ADMIN);
            if (r.status == status) {
                return r;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("/metrics did not answer " + status + " within 30 s: " + r.status + " " + r.body);
    }

    static MetricsScrape scrape() throws Exception {
        Reply r = call("GET", "/metrics", null, ADMIN);
        assertEquals(200, r.status, r.body);
        assertTrue(r.headers.firstValue("content-type").orElse("").startsWith("text/plain; version=0.0.4"));
        return new MetricsScrape(r.body);
    }

    /**
     * Polls {@code GET /health/ready} (FileInstall needs about two polls) until it answers {@code status} with a body
     * containing every one of {@code fragments}.
     */
    static Reply awaitReady(int status, String... fragments) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Reply r;
        do {
            r = call("GET", "/health/ready", null, null);
            Reply answer = r;
            if (r.status == status && java.util.Arrays.stream(fragments).allMatch(f -> answer.body.contains(f))) {
                return r;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("/health/ready did not answer " + status + " within 30 s: " + r.status + " " + r.body);
    }

    @Test
    @Order(100)
    void openApiDocumentListsExactlyTheImplementedOperations() throws Exception {
        Reply r = call("GET", "/v1/openapi.yaml", null, ADMIN);
        assertEquals(200, r.status);
        assertEquals("application/yaml", r.headers.firstValue("content-type").orElse(""));
        assertEquals(new TreeSet<>(OPERATIONS), operations(r.body));
        Set<String> missing = new TreeSet<>(OPERATIONS);
        missing.removeAll(exercised);
        assertTrue(missing.isEmpty(), "operations this test never called: " + missing);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    static ParleyClient connect(String user, String device, LinkedBlockingQueue<Message> inbox) throws Exception {
        ParleyClient c = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId(device)
                .token(server.tokens().mint(user, null, Duration.ofMinutes(30))).messageListener(inbox::add).build();
        clients.add(c);
        c.connect().get(15, TimeUnit.SECONDS);
        return c;
    }

    record Reply(int status, String body, java.net.http.HttpHeaders headers) {
        Map<String, Object> json() {
            return map(Json.parse(body));
        }
    }

    static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + httpPort + path);
    }

    /** For paths without parameters: the path is its own template. */
    static Reply call(String method, String path, String body, String token) throws Exception {
        return call(method, path.contains("?") ? path.substring(0, path.indexOf('?')) : path, path, body, token);
    }

    static Reply call(String method, String template, String path, String body, String token) throws Exception {
        exercised.add(method + " " + template);
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body(), r.headers());
    }

    static Map<String, Object> ok(Reply r) {
        assertEquals(200, r.status, r.body);
        return r.json();
    }

    static void assertError(Reply r, int status, String code) {
        assertEquals(status, r.status, r.body);
        assertEquals(code, map(r.json().get("error")).get("code"), r.body);
        assertTrue(r.headers.firstValue("content-type").orElse("").startsWith("application/json"));
    }

    static void assertMessage(Reply r, int status, String fragment) {
        assertEquals(status, r.status, r.body);
        String message = (String) map(r.json().get("error")).get("message");
        assertTrue(message.contains(fragment), "'" + message + "' should contain '" + fragment + "'");
    }

    static Map<String, Object> member(Map<String, Object> groupResult, String user) {
        for (Object m : list(map(groupResult.get("group")).get("members"))) {
            if (user.equals(map(m).get("user"))) {
                return map(m);
            }
        }
        return null;
    }

    static String role(Map<String, Object> groupResult, String user) {
        Map<String, Object> m = member(groupResult, user);
        assertNotNull(m, user + " is a member");
        return (String) m.get("role");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) {
        return (List<Object>) o;
    }

    /** {@code METHOD path} of every operation under {@code paths:} (2-space path keys, 4-space method keys). */
    static Set<String> operations(String yaml) {
        Pattern pathKey = Pattern.compile("^  (/\\S*):\\s*$");
        Pattern methodKey = Pattern.compile("^    (get|put|post|delete|patch|head|options):\\s*$");
        Set<String> out = new TreeSet<>();
        boolean inPaths = false;
        String path = null;
        for (String line : yaml.split("\n")) {
            if (!line.startsWith(" ") && !line.isBlank()) {
                inPaths = line.startsWith("paths:");
                continue;
            }
            Matcher p = pathKey.matcher(line);
            Matcher m = methodKey.matcher(line);
            if (inPaths && p.matches()) {
                path = p.group(1);
            } else if (inPaths && m.matches() && path != null) {
                out.add(m.group(1).toUpperCase() + " " + path);
            }
        }
        assertFalse(out.isEmpty(), "no operations in the OpenAPI document");
        return out;
    }

    /** A small strict JSON reader (objects → LinkedHashMap, arrays → List, integers → Long), enough for answers. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json j = new Json(text);
            Object v = j.value();
            j.ws();
            if (j.i != text.length()) {
                throw new IllegalArgumentException("trailing data at " + j.i + ": " + text);
            }
            return v;
        }

        private Object value() {
            ws();
            char c = s.charAt(i);
            switch (c) {
                case '{': {
                    Map<String, Object> m = new LinkedHashMap<>();
                    i++;
                    ws();
                    if (s.charAt(i) == '}') {
                        i++;
                        return m;
                    }
                    do {
                        ws();
                        String k = string();
                        ws();
                        expect(':');
                        m.put(k, value());
                        ws();
                    } while (s.charAt(i++) == ',');
                    if (s.charAt(i - 1) != '}') {
                        throw new IllegalArgumentException("expected } at " + (i - 1));
                    }
                    return m;
                }
                case '[': {
                    List<Object> l = new ArrayList<>();
                    i++;
                    ws();
                    if (s.charAt(i) == ']') {
                        i++;
                        return l;
                    }
                    do {
                        l.add(value());
                        ws();
                    } while (s.charAt(i++) == ',');
                    if (s.charAt(i - 1) != ']') {
                        throw new IllegalArgumentException("expected ] at " + (i - 1));
                    }
                    return l;
                }
                case '"':
                    return string();
                case 't':
                    return literal("true", Boolean.TRUE);
                case 'f':
                    return literal("false", Boolean.FALSE);
                case 'n':
                    return literal("null", null);
                default: {
                    int start = i;
                    while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                        i++;
                    }
                    String n = s.substring(start, i);
                    return n.matches("-?\\d+") ? (Object) Long.parseLong(n) : (Object) Double.parseDouble(n);
                }
            }
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            for (char c = s.charAt(i++); c != '"'; c = s.charAt(i++)) {
                if (c == '\\') {
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case 'b' -> b.append('\b');
                        case 'f' -> b.append('\f');
                        case 'u' -> {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> b.append(e);
                    }
                } else {
                    b.append(c);
                }
            }
            return b.toString();
        }

        private Object literal(String word, Object value) {
            if (!s.startsWith(word, i)) {
                throw new IllegalArgumentException("unexpected input at " + i);
            }
            i += word.length();
            return value;
        }

        private void expect(char c) {
            if (s.charAt(i++) != c) {
                throw new IllegalArgumentException("expected " + c + " at " + (i - 1));
            }
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }
    }
}
