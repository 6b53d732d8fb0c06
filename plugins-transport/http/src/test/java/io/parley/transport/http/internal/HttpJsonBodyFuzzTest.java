package io.parley.transport.http.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import io.parley.core.proto.Group;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzz target: arbitrary request bodies for every endpoint of the HTTP API that takes a JSON body, through
 * {@link ApiService} (Jackson into the {@link Dto} records, {@link BodyJson} for message bodies and command payloads
 * of any deployed type, {@link ProtoMapping}) and {@link CoreGateway} into the real engine ({@link EngineCore}).
 *
 * <p>Input ({@link FuzzedDataProvider}): the endpoint, then either the body's bytes or a JSON object assembled from the
 * API's field names with values of every JSON kind (strings the API knows, any string, 64-bit and larger numbers,
 * numbers as strings, fractions, nulls, arrays, nested objects).
 *
 * <p>Contract checked for every input: {@code handle} throws nothing; its answer comes within the call time-out;
 * it is either a success (2xx, whose JSON can be written) or an {@link ApiException} with a 4xx status and a
 * message — never 500 (a bug: an unexpected exception or {@code INTERNAL} from the core) nor another 5xx (504 only
 * for the {@code blackhole} type, which never answers); every core session the call opened is closed. Run by the
 * {@code fuzz} surefire execution (docs/fuzzing.md).
 */
class HttpJsonBodyFuzzTest {

    /** The endpoints with a JSON body, with path parameters filled in. */
    private static final String[][] ENDPOINTS = {
            {"POST", "/v1/messages"},
            {"POST", "/v1/users/alice/kick"},
            {"POST", "/v1/tokens"},
            {"POST", "/v1/commands/group.echo"},
            {"POST", "/v1/commands/opaque"},
            {"POST", "/v1/commands/absent"},
            {"POST", "/v1/groups"},
            {"POST", "/v1/groups/g1/members"},
            {"POST", "/v1/groups/g1/leave"},
            {"POST", "/v1/groups/g1/roles"},
            {"POST", "/v1/groups/g1/mute"},
            {"POST", "/v1/groups/g1/mute-all"},
            {"POST", "/v1/groups/g1/transfer"},
    };
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(1);
    /** A fresh engine and store after this many inputs, so long runs do not grow the in-memory store without bound. */
    private static final int INPUTS_PER_ENGINE = 5_000;

    private static final String[] FIELDS = {"from", "to", "conversation", "text", "type", "body", "json", "packed",
            "type_url", "value_base64", "client_msg_id", "ext", "device", "reason", "user", "ttl_seconds", "payload",
            "payload_packed", "client_request_id", "owner", "name", "members", "actor", "users", "role", "until",
            "muted", "new_owner", "id", "mutedAll", "muted_all", "created_at", "createdAt", "mutedUntil", "k"};
    private static final String[] STRINGS = {"alice", "bob", "system", "text", "group-card", "blackhole", "admin",
            "member", "GROUP_ROLE_ADMIN", "GROUP_ROLE_OWNER", "d:alice:bob", "g:g1", "g1", "", " ", "\u202e",
            "a\u0000b", "type.googleapis.com/parley.v1.Group", "type.googleapis.com/parley.text.v1.Text", "CgJoaQ==",
            "!!", "18446744073709551616", "-1", "1e3", "0x10"};
    private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER =
            new com.fasterxml.jackson.databind.ObjectMapper();
    private static final com.fasterxml.jackson.databind.node.JsonNodeFactory NODES =
            com.fasterxml.jackson.databind.node.JsonNodeFactory.instance;
    private static final Router ROUTER = new Router();
    private static final ApiJson JSON = new ApiJson();
    private static final ScheduledExecutorService TIMER = new ScheduledThreadPoolExecutor(1);
    private static EngineCore core;
    private static ApiService api;
    private static int inputs;

    @DictionaryEntries({"\"from\"", "\"to\"", "\"conversation\"", "\"text\"", "\"type\"", "\"body\"",
            "\"json\"", "\"packed\"", "\"type_url\"", "\"value_base64\"", "\"client_msg_id\"", "\"ext\"",
            "\"device\"", "\"reason\"", "\"user\"", "\"ttl_seconds\"", "\"payload\"", "\"payload_packed\"",
            "\"client_request_id\"", "\"owner\"", "\"name\"", "\"members\"", "\"actor\"", "\"users\"",
            "\"role\"", "\"until\"", "\"muted\"", "\"new_owner\"", "\"id\"", "\"mutedAll\"", "\"created_at\"",
            "\"GROUP_ROLE_ADMIN\"", "\"group-card\"", "\"alice\"", "\"bob\"", "null", "true", "false",
            "18446744073709551616", "-9223372036854775809", "1e400", "\"\\u0000\""})
    @FuzzTest(maxDuration = "8s")
    void jsonBodies(FuzzedDataProvider data) throws Exception {
        String[] endpoint = data.pickValue(ENDPOINTS);
        byte[] body = data.consumeBoolean() ? data.consumeRemainingAsBytes()
                : MAPPER.writeValueAsBytes(object(data, 0));
        ApiService service = api();
        Router.Match match = ROUTER.route(endpoint[0], endpoint[1]);
        assertTrue(match.endpoint() != null, endpoint[1]);

        CompletableFuture<ApiService.Reply> answer;
        try {
            answer = service.handle(match, new ApiService.Call(Map.of(), body, "fuzz"), TIMER);
        } catch (RuntimeException e) {
            throw new AssertionError("handle threw for " + endpoint[1], e);
        }
        try {
            ApiService.Reply reply = answer.get(CALL_TIMEOUT.toMillis() + 4_000, TimeUnit.MILLISECONDS);
            assertTrue(reply.status() >= 200 && reply.status() < 300, "status " + reply.status());
            if (reply.json() != null) {
                JSON.write(reply.json());
            }
        } catch (TimeoutException e) {
            throw new AssertionError("no answer to " + endpoint[1] + " within the call time-out", e);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof ApiException refusal)) {
                throw new AssertionError("not an ApiException for " + endpoint[1], e.getCause());
            }
            boolean blackhole = new String(body, StandardCharsets.ISO_8859_1).contains("blackhole");
            assertTrue(refusal.status() >= 400 && refusal.status() < 500 || refusal.status() == 504 && blackhole,
                    endpoint[1] + " answered " + refusal);
            assertFalse(refusal.getMessage() == null || refusal.getMessage().isBlank(), "no message: " + refusal);
        }
        assertEquals(core.opened.get(), core.closed.get(), "a core session left open");
    }

    /** The target reaches the engine: well-formed bodies succeed, so the fuzzer's 4xx are the API's own refusals. */
    @Test
    void wellFormedBodiesSucceed() throws Exception {
        Map<String, String> bodies = Map.of(
                "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hi\"}",
                "/v1/groups", "{\"owner\":\"alice\",\"name\":\"team\",\"members\":[\"bob\"]}",
                "/v1/commands/group.echo", "{\"user\":\"alice\",\"payload\":{\"id\":\"g1\",\"createdAt\":\"41\"}}");
        for (Map.Entry<String, String> e : bodies.entrySet()) {
            ApiService.Reply reply = api().handle(ROUTER.route("POST", e.getKey()), new ApiService.Call(Map.of(),
                    e.getValue().getBytes(StandardCharsets.UTF_8), "test"), TIMER).get(5, TimeUnit.SECONDS);
            assertEquals(200, reply.status(), e.getKey());
        }
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode object(FuzzedDataProvider data, int depth) {
        com.fasterxml.jackson.databind.node.ObjectNode o = NODES.objectNode();
        int fields = data.consumeInt(0, 6);
        for (int i = 0; i < fields; i++) {
            o.set(data.pickValue(FIELDS), value(data, depth + 1));
        }
        return o;
    }

    private static com.fasterxml.jackson.databind.JsonNode value(FuzzedDataProvider data, int depth) {
        return switch (data.consumeInt(0, depth >= 3 ? 6 : 8)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(data.consumeBoolean());
            case 2 -> NODES.numberNode(data.consumeLong());
            case 3 -> NODES.textNode(data.pickValue(STRINGS));
            case 4 -> NODES.textNode(data.consumeString(40));
            case 5 -> NODES.numberNode(new java.math.BigInteger(1, data.consumeBytes(12)));
            case 6 -> NODES.numberNode(data.consumeRegularDouble());
            case 7 -> {
                com.fasterxml.jackson.databind.node.ArrayNode a = NODES.arrayNode();
                int n = data.consumeInt(0, 3);
                for (int i = 0; i < n; i++) {
                    a.add(value(data, depth + 1));
                }
                yield a;
            }
            default -> object(data, depth);
        };
    }

    private static ApiService api() {
        if (api == null || ++inputs % INPUTS_PER_ENGINE == 0) {
            if (core != null) {
                core.close();
            }
            core = new EngineCore(HttpApiServerTest.SECRET)
                    // a type whose body is a rich message: nested and repeated messages, enums, 64-bit integers, maps
                    .processor("group-card", new MessageProcessor() {
                        @Override
                        public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
                            return CompletableFuture.completedFuture(ProcessResult.store(draft, "card"));
                        }

                        @Override
                        public Optional<Descriptors.Descriptor> bodyDescriptor() {
                            return Optional.of(Group.getDescriptor());
                        }
                    })
                    .command("group.echo", handler(Group.getDescriptor()))
                    .command("opaque", handler(null));
            api = new ApiService(new CoreGateway(() -> core),
                    TokenIssuer.create(HttpApiServerTest.SECRET, "parley", Duration.ofDays(1), Duration.ofDays(30)),
                    JSON, CALL_TIMEOUT, new byte[0]);
        }
        return api;
    }

    /** A command answering its payload as it came; {@code payload} describes it (null: packed only). */
    private static CommandHandler handler(Descriptors.Descriptor payload) {
        return new CommandHandler() {
            @Override
            public CompletionStage<Any> execute(CommandContext context, Any p) {
                return CompletableFuture.completedFuture(p);
            }

            @Override
            public Optional<Descriptors.Descriptor> payloadDescriptor() {
                return Optional.ofNullable(payload);
            }

            @Override
            public Optional<Descriptors.Descriptor> resultDescriptor() {
                return Optional.ofNullable(payload);
            }
        };
    }
}
