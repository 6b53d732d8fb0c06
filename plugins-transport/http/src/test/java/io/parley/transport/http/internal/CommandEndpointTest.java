package io.parley.transport.http.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.GroupRole;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Pong;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code POST /v1/commands/{type}} and the command catalog of {@code GET /v1/types}, over real sockets with the real
 * engine behind the API ({@link EngineCore}) serving test commands:
 * <ul>
 *   <li>{@code group.echo}: payload and answer {@code parley.v1.Group} (nested messages, enums, 64-bit integers);
 *       answers the group with its name upper-cased and {@code created_at} plus one;</li>
 *   <li>{@code opaque}: names no messages; answers a {@code Pong} for a {@code Ping}, an empty answer otherwise;</li>
 *   <li>{@code fail}: payload {@code parley.v1.Error}; refuses with that code, message and retryable (throws an
 *       unexpected exception for {@code ERROR_CODE_UNSPECIFIED});</li>
 *   <li>{@code trusted.only}: refuses {@code FORBIDDEN} unless {@link CommandContext#trusted()}.</li>
 * </ul>
 * Every handler records what it saw ({@link Seen}).
 */
class CommandEndpointTest {

    private static final String ADMIN = HttpApiServerTest.ADMIN;
    private static final String GROUP_URL = "type.googleapis.com/parley.v1.Group";

    /** What a handler was called with. */
    record Seen(String type, String user, String device, boolean trusted, String clientRequestId, Any payload) {
    }

    private final ObjectMapper mapper = new ObjectMapper();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final List<HttpApiServer> servers = new ArrayList<>();
    private EngineCore core;
    private HttpApiServer server;

    @BeforeEach
    void start() throws IOException {
        core = new EngineCore(HttpApiServerTest.SECRET)
                .command("group.echo", handler(Group.getDescriptor(), Group.getDescriptor(), (context, payload) -> {
                    Group g = unpack(payload, Group.class);
                    return Any.pack(g.toBuilder().setName(g.getName().toUpperCase(Locale.ROOT))
                            .setCreatedAt(g.getCreatedAt() + 1).build());
                }))
                .command("opaque", handler(null, null, (context, payload) -> payload.is(Ping.class)
                        ? Any.pack(Pong.newBuilder().setClientTime(unpack(payload, Ping.class).getClientTime())
                                .setServerTime(7).build())
                        : Any.getDefaultInstance()))
                .command("fail", handler(Error.getDescriptor(), null, (context, payload) -> {
                    Error e = unpack(payload, Error.class);
                    if (e.getCode() == ErrorCode.ERROR_CODE_UNSPECIFIED) {
                        throw new IllegalStateException("a bug in the handler");
                    }
                    throw new ParleyException(e.getCode(), e.getMessage(), e.getRetryable());
                }))
                .command("trusted.only", handler(null, null, (context, payload) -> {
                    if (!context.trusted()) {
                        throw new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, "trusted callers only");
                    }
                    return Any.getDefaultInstance();
                }));
        server = new HttpApiServer(HttpApiServerTest.settings(ADMIN, 1024 * 1024, Duration.ofSeconds(5), 100),
                TokenIssuer.create(HttpApiServerTest.SECRET, "parley", Duration.ofDays(1), Duration.ofDays(30)));
        server.start();
        servers.add(server);
        server.bindReceiver(core);
    }

    @AfterEach
    void stop() {
        servers.forEach(HttpApiServer::stop);
        core.close();
        assertEquals(core.opened.get(), core.closed.get(), "every core session is closed exactly once");
    }

    // ------------------------------------------------------------------------------------------------ running

    @Test
    void aJsonPayloadIsTheCommandsMessageAndTheAnswerComesBackAsJsonAndPacked() throws Exception {
        HttpResponse<String> r = post("/v1/commands/group.echo", "{\"user\":\"alice\",\"client_request_id\":\"cmd-1\","
                + "\"payload\":{\"id\":\"g1\",\"name\":\"Team\",\"created_at\":\"41\",\"mutedAll\":true,\"members\":["
                + "{\"user\":\"alice\",\"role\":\"GROUP_ROLE_OWNER\",\"mutedUntil\":\"1900000000000\"},"
                + "{\"user\":\"bob\",\"role\":2,\"muted_until\":5}]}}");
        assertEquals(200, r.statusCode(), r.body());
        Group sent = Group.newBuilder().setId("g1").setName("Team").setCreatedAt(41).setMutedAll(true)
                .addMembers(GroupMember.newBuilder().setUser("alice").setRole(GroupRole.GROUP_ROLE_OWNER)
                        .setMutedUntil(1_900_000_000_000L))
                .addMembers(GroupMember.newBuilder().setUser("bob").setRole(GroupRole.GROUP_ROLE_ADMIN).setMutedUntil(5))
                .build();
        assertEquals(List.of(new Seen("group.echo", "alice", CoreGateway.DEVICE_ID, true, "cmd-1", Any.pack(sent))),
                seen, "JSON and proto names, 64-bit integers as strings or numbers, enums by name or number");

        JsonNode answer = json(r);
        assertEquals("group.echo", answer.get("type").asText());
        assertEquals(mapper.readTree("{\"id\":\"g1\",\"name\":\"TEAM\",\"members\":["
                + "{\"user\":\"alice\",\"role\":\"GROUP_ROLE_OWNER\",\"mutedUntil\":\"1900000000000\"},"
                + "{\"user\":\"bob\",\"role\":\"GROUP_ROLE_ADMIN\",\"mutedUntil\":\"5\"}],"
                + "\"mutedAll\":true,\"createdAt\":\"42\"}"), answer.get("result"));
        assertEquals(GROUP_URL, answer.get("result_packed").get("type_url").asText());
        assertEquals(sent.toBuilder().setName("TEAM").setCreatedAt(42).build(), Group.parseFrom(
                Base64.getDecoder().decode(answer.get("result_packed").get("value_base64").asText())));
        assertEquals(3, answer.size(), answer.toString());
    }

    @Test
    void withoutUserTheSystemAccountRunsItAndWithoutPayloadTheHandlerGetsAnEmptyMessageOfItsPayloadType()
            throws Exception {
        JsonNode described = json(post("/v1/commands/group.echo", "{}"));
        assertEquals(mapper.readTree("{\"createdAt\":\"1\"}"), described.get("result"),
                "the echo of an empty Group: fields at their defaults are left out");
        JsonNode undescribed = json(post("/v1/commands/opaque", "{\"payload\":null}"));
        assertEquals(mapper.readTree("{\"type_url\":\"\",\"value_base64\":\"\"}"), undescribed.get("result_packed"));
        assertFalse(undescribed.has("result"), "no result message named: packed only");
        assertEquals(List.of(
                new Seen("group.echo", ApiService.SYSTEM_USER, CoreGateway.DEVICE_ID, true, "",
                        Any.newBuilder().setTypeUrl(GROUP_URL).build()),
                new Seen("opaque", ApiService.SYSTEM_USER, CoreGateway.DEVICE_ID, true, "", Any.getDefaultInstance())),
                seen);
    }

    @Test
    void aPackedPayloadReachesTheHandlerAsSentForAnyCommand() throws Exception {
        Any ping = Any.pack(Ping.newBuilder().setClientTime(123).build());
        HttpResponse<String> r = post("/v1/commands/opaque", "{\"user\":\"bob\",\"payload_packed\":" + packed(ping) + "}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode answer = json(r);
        assertFalse(answer.has("result"), "the handler names no answer message");
        assertEquals("type.googleapis.com/parley.v1.Pong", answer.get("result_packed").get("type_url").asText());
        assertEquals(Pong.newBuilder().setClientTime(123).setServerTime(7).build(), Pong.parseFrom(
                Base64.getDecoder().decode(answer.get("result_packed").get("value_base64").asText())));
        assertEquals(ping, seen.get(0).payload());
        assertEquals("bob", seen.get(0).user());

        // a described command takes a packed payload too, and still answers JSON
        Any group = Any.pack(Group.newBuilder().setName("packed").build());
        JsonNode echoed = json(post("/v1/commands/group.echo", "{\"payload_packed\":" + packed(group) + "}"));
        assertEquals("PACKED", echoed.get("result").get("name").asText());
        assertEquals(group, seen.get(1).payload());
    }

    @Test
    void theTypeIsOnePathSegmentDecodedOnce() throws Exception {
        assertEquals(200, post("/v1/commands/group%2Eecho", "{}").statusCode());
        assertEquals("group.echo", seen.get(0).type());
        assertError(post("/v1/commands/group%2Fecho", "{}"), 400, "INVALID_REQUEST");
        assertError(post("/v1/commands/group%252Eecho", "{}"), 400, "INVALID_REQUEST");
        assertError(post("/v1/commands/a/b", "{}"), 404, "NOT_FOUND");
        HttpResponse<String> get = call("GET", "/v1/commands/group.echo", null, ADMIN);
        assertError(get, 405, "METHOD_NOT_ALLOWED");
        assertEquals("POST", get.headers().firstValue("allow").orElse(""));
        assertEquals(1, seen.size());
    }

    // ------------------------------------------------------------------------------------------------ refusals

    @Test
    void aCommandThatIsNotDeployedIs422() throws Exception {
        assertMessage(post("/v1/commands/nope", "{}"), 422, "UNSUPPORTED_COMMAND", "nope");
        assertMessage(post("/v1/commands/nope", "{\"payload_packed\":" + packed(Any.pack(Ping.getDefaultInstance()))
                + "}"), 422, "UNSUPPORTED_COMMAND", "nope");
        assertMessage(post("/v1/commands/nope", "{\"payload\":{\"a\":1}}"), 422, "UNSUPPORTED_COMMAND",
                "command 'nope' is not deployed");
        // deployed, but its handler names no payload message: JSON cannot be read, packed can
        assertMessage(post("/v1/commands/opaque", "{\"payload\":{\"clientTime\":1}}"), 422, "UNSUPPORTED_COMMAND",
                "payload_packed");
        assertFalse(json(post("/v1/commands/nope", "{}")).get("error").get("retryable").asBoolean());
        assertTrue(seen.isEmpty());
    }

    @Test
    void aBadRequestIs400NamingTheField() throws Exception {
        assertMessage(post("/v1/commands/group.echo", "{\"payload\":{\"nmae\":\"x\"}}"), 400, "INVALID_REQUEST",
                "payload.nmae is not a field of parley.v1.Group");
        assertMessage(post("/v1/commands/group.echo", "{\"payload\":{\"members\":[{\"user\":\"a\",\"nick\":\"b\"}]}}"),
                400, "INVALID_REQUEST", "payload.members[0].nick is not a field of parley.v1.GroupMember");
        assertMessage(post("/v1/commands/group.echo", "{\"payload\":{\"name\":7}}"), 400, "INVALID_REQUEST",
                "payload.name must be a string");
        assertMessage(post("/v1/commands/group.echo", "{\"payload\":{\"members\":[{\"role\":\"BOSS\"}]}}"), 400,
                "INVALID_REQUEST", "payload.members[0].role must be one of");
        assertMessage(post("/v1/commands/group.echo", "{\"payload\":[]}"), 400, "INVALID_REQUEST",
                "payload must be an object");
        assertMessage(post("/v1/commands/group.echo", "{\"paylaod\":{}}"), 400, "INVALID_REQUEST",
                "unknown field 'paylaod'");
        assertMessage(post("/v1/commands/group.echo", "{\"payload\":{},\"payload_packed\":{\"type_url\":\"t\"}}"), 400,
                "INVALID_REQUEST", "not both");
        assertMessage(post("/v1/commands/opaque", "{\"payload_packed\":{\"value_base64\":\"\"}}"), 400,
                "INVALID_REQUEST", "payload_packed.type_url is required");
        assertMessage(post("/v1/commands/opaque", "{\"payload_packed\":{\"type_url\":\"t\",\"value_base64\":\"@@\"}}"),
                400, "INVALID_REQUEST", "payload_packed.value_base64 is not base64");
        assertMessage(post("/v1/commands/opaque", "{\"payload_packed\":{\"type_url\":\"t\",\"value\":\"\"}}"), 400,
                "INVALID_REQUEST", "unknown field 'payload_packed.value'");
        assertMessage(post("/v1/commands/opaque", "{\"user\":\"no spaces\"}"), 400, "INVALID_REQUEST",
                "invalid user id");
        assertMessage(post("/v1/commands/opaque", "{\"client_request_id\":\"" + "r".repeat(65) + "\"}"), 400,
                "INVALID_REQUEST", "client_request_id");
        assertMessage(post("/v1/commands/" + "t".repeat(65), "{}"), 400, "INVALID_REQUEST", "1-64 characters");
        assertMessage(post("/v1/commands/opaque", ""), 400, "INVALID_REQUEST", "must be a JSON object");
        assertTrue(seen.isEmpty(), "no handler ran: " + seen);
    }

    @Test
    void theHandlersRefusalsMapToHttpStatuses() throws Exception {
        Map<String, Integer> statuses = Map.of("FORBIDDEN", 403, "NOT_FOUND", 404, "INVALID_REQUEST", 400,
                "QUOTA_EXCEEDED", 403, "UNAVAILABLE", 503, "INVALID_BODY", 400, "RATE_LIMITED", 429);
        for (Map.Entry<String, Integer> e : statuses.entrySet()) {
            boolean retryable = e.getKey().equals("UNAVAILABLE") || e.getKey().equals("RATE_LIMITED");
            HttpResponse<String> r = post("/v1/commands/fail", "{\"payload\":{\"code\":\"ERROR_CODE_" + e.getKey()
                    + "\",\"message\":\"refused: " + e.getKey() + "\",\"retryable\":" + retryable + "}}");
            assertMessage(r, e.getValue(), e.getKey(), "refused: " + e.getKey());
            assertEquals(retryable, json(r).get("error").get("retryable").asBoolean(), r.body());
        }
        // a handler that fails with anything but a ParleyException has a bug: INTERNAL, its message not shown
        assertMessage(post("/v1/commands/fail", "{\"payload\":{}}"), 500, "INTERNAL", "internal error");
        assertFalse(post("/v1/commands/fail", "{\"payload\":{}}").body().contains("a bug"));
    }

    @Test
    void aHandlerSeesATrustedSessionThroughTheApi() throws Exception {
        HttpResponse<String> r = post("/v1/commands/trusted.only", "{\"user\":\"carol\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(new Seen("trusted.only", "carol", CoreGateway.DEVICE_ID, true, "", Any.getDefaultInstance()),
                seen.get(0));
    }

    @Test
    void everyCommandCallNeedsTheAdminToken() throws Exception {
        for (String path : List.of("/v1/commands/group.echo", "/v1/commands/nope", "/v1/types")) {
            String method = path.equals("/v1/types") ? "GET" : "POST";
            String body = method.equals("POST") ? "{\"payload\":{\"name\":\"x\"}}" : null;
            HttpResponse<String> none = call(method, path, body, null);
            assertError(none, 401, "UNAUTHENTICATED");
            assertEquals("Bearer realm=\"parley\"", none.headers().firstValue("www-authenticate").orElse(""));
            assertError(call(method, path, body, ADMIN + "x"), 401, "UNAUTHENTICATED");
            assertError(call(method, path, body, "wrong-" + ADMIN), 401, "UNAUTHENTICATED");
        }
        assertEquals(0, core.opened.get(), "refused calls never reach the core");
        assertTrue(seen.isEmpty());
    }

    // ------------------------------------------------------------------------------------------------ catalog

    @Test
    void typesListsTheDeployedCommandsWithTheFieldsOfTheirMessages() throws Exception {
        JsonNode types = json(call("GET", "/v1/types", null, ADMIN));
        JsonNode text = find(types.get("types"), "text");
        assertEquals("parley.text.v1.Text", text.get("body").asText(), "the message types are listed as before");

        JsonNode commands = types.get("commands");
        assertEquals(4, commands.size(), commands.toString());
        JsonNode echo = find(commands, "group.echo");
        assertEquals("parley.v1.Group", echo.get("payload").asText());
        assertEquals(GROUP_URL, echo.get("payload_type_url").asText());
        assertEquals("parley.v1.Group", echo.get("result").asText());
        assertEquals(GROUP_URL, echo.get("result_type_url").asText());
        JsonNode members = field(echo.get("payload_fields"), "members");
        assertEquals("message", members.get("type").asText());
        assertTrue(members.get("repeated").asBoolean());
        assertEquals("parley.v1.GroupMember", members.get("message").asText());
        JsonNode mutedUntil = field(members.get("fields"), "muted_until");
        assertEquals("mutedUntil", mutedUntil.get("json_name").asText());
        assertEquals("int64", mutedUntil.get("type").asText());
        assertTrue(field(members.get("fields"), "role").get("enum").toString().contains("GROUP_ROLE_ADMIN"));
        assertEquals(echo.get("payload_fields"), echo.get("result_fields"));

        assertEquals(mapper.readTree("{\"type\":\"opaque\"}"), find(commands, "opaque"), "names no messages");
        JsonNode fail = find(commands, "fail");
        assertEquals("parley.v1.Error", fail.get("payload").asText());
        assertFalse(fail.has("result") || fail.has("result_type_url") || fail.has("result_fields"), fail.toString());
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** A handler that records each call, naming {@code payload} and {@code result} (null: none) for the catalog. */
    private CommandHandler handler(Descriptors.Descriptor payload, Descriptors.Descriptor result,
                                   BiFunction<CommandContext, Any, Any> run) {
        return new CommandHandler() {
            @Override
            public CompletionStage<Any> execute(CommandContext context, Any p) {
                seen.add(new Seen(context.commandType(), context.userId(), context.deviceId(), context.trusted(),
                        context.clientRequestId(), p));
                try {
                    return CompletableFuture.completedFuture(run.apply(context, p));
                } catch (RuntimeException e) {
                    return CompletableFuture.failedFuture(e);
                }
            }

            @Override
            public Optional<Descriptors.Descriptor> payloadDescriptor() {
                return Optional.ofNullable(payload);
            }

            @Override
            public Optional<Descriptors.Descriptor> resultDescriptor() {
                return Optional.ofNullable(result);
            }
        };
    }

    private static <T extends com.google.protobuf.Message> T unpack(Any payload, Class<T> type) {
        try {
            return payload.unpack(type);
        } catch (InvalidProtocolBufferException e) {
            throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "not a " + type.getSimpleName());
        }
    }

    private static String packed(Any any) {
        return "{\"type_url\":\"" + any.getTypeUrl() + "\",\"value_base64\":\""
                + Base64.getEncoder().encodeToString(any.getValue().toByteArray()) + "\"}";
    }

    private static JsonNode find(JsonNode entries, String type) {
        for (JsonNode e : entries) {
            if (e.get("type").asText().equals(type)) {
                return e;
            }
        }
        throw new AssertionError("no " + type + " in " + entries);
    }

    private static JsonNode field(JsonNode fields, String name) {
        for (JsonNode f : fields) {
            if (f.get("name").asText().equals(name)) {
                return f;
            }
        }
        throw new AssertionError("no field " + name + " in " + fields);
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return call("POST", path, body, ADMIN);
    }

    private HttpResponse<String> call(String method, String path, String body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.localAddress().getPort() + path))
                .timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(HttpResponse<String> r) throws IOException {
        return mapper.readTree(r.body());
    }

    private void assertError(HttpResponse<String> r, int status, String code) throws IOException {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals(code, json(r).get("error").get("code").asText(), r.body());
    }

    private void assertMessage(HttpResponse<String> r, int status, String code, String fragment) throws IOException {
        assertError(r, status, code);
        String message = json(r).get("error").get("message").asText();
        assertTrue(message.contains(fragment), "'" + message + "' should contain '" + fragment + "'");
    }
}
