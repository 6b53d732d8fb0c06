package io.parley.push.internal;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandContext;
import io.parley.push.internal.TokenStore.DeviceToken;
import io.parley.push.proto.Mute;
import io.parley.push.proto.Register;
import io.parley.push.proto.Unregister;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The commands' validation and effect, with a plain CommandContext standing for the core's facade. */
class PushCommandsTest {

    private static final long NOW = 1_700_000_000_000L;

    /** The caller and the conversations they are a member of; like the core, members() refuses the others. */
    record Caller(String userId, String deviceId, Map<String, List<String>> conversations) implements CommandContext {
        @Override
        public String commandType() {
            return "push.test";
        }

        @Override
        public String clientRequestId() {
            return "";
        }

        @Override
        public Instant receivedAt() {
            return Instant.ofEpochMilli(NOW);
        }

        @Override
        public List<String> members(String conversation) {
            List<String> members = conversations.get(conversation);
            if (members == null || !members.contains(userId)) {
                throw new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no such conversation");
            }
            return members;
        }

        @Override
        public Optional<io.parley.core.proto.Group> group(String conversation) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<Message> message(String conversation, long seq) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletionStage<Message> appendEvent(String conversation, String type, Any body) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletionStage<Message> replace(String conversation, long seq, String type, Any body) {
            throw new UnsupportedOperationException();
        }
    }

    @TempDir
    Path dir;
    private TokenStore store;
    private PushCommands commands;
    private final Caller bobPhone = new Caller("bob", "phone", Map.of("d:alice:bob", List.of("alice", "bob"),
            "g:other", List.of("alice", "carol")));

    @BeforeEach
    void open() {
        store = TokenStore.open(dir, 100, () -> NOW);
        commands = new PushCommands(store);
    }

    @AfterEach
    void close() {
        store.close();
    }

    private static Any register(String platform, String token) {
        return Any.pack(Register.newBuilder().setPlatform(platform).setToken(token).build());
    }

    private static Any mute(String conversation, long until) {
        return Any.pack(Mute.newBuilder().setConversation(conversation).setUntil(until).build());
    }

    private static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private static ParleyException refusal(CompletionStage<Any> stage) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(stage));
        return (ParleyException) e.getCause();
    }

    @Test
    void registerStoresTheCallersDeviceTokenAndAnswersEmpty() throws Exception {
        assertEquals(Any.getDefaultInstance(), await(commands.register(bobPhone, register("fcm", "tok:1_A-b"))));
        assertEquals(List.of(new DeviceToken("phone", "fcm", "tok:1_A-b")), store.tokens("bob"));
        await(commands.register(bobPhone, register("fcm", "tok-2")));
        assertEquals(List.of(new DeviceToken("phone", "fcm", "tok-2")), store.tokens("bob"), "replaced");
        await(commands.register(new Caller("bob", "tablet", Map.of()), register("apns.sandbox", "ab12")));
        assertEquals(2, store.tokens("bob").size());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "f c m", "fcm/x", "émoji", "123456789012345678901234567890123"})
    void registerRefusesABadPlatform(String platform) {
        ParleyException e = refusal(commands.register(bobPhone, register(platform, "t")));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, e.code());
        assertTrue(e.getMessage().contains("platform"), e.getMessage());
    }

    @Test
    void registerAcceptsThe32CharacterPlatformAnd4096CharacterToken() throws Exception {
        await(commands.register(bobPhone, register("a".repeat(32), "t".repeat(4096))));
        assertEquals(4096, store.tokens("bob").get(0).token().length());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "two words", "tab\there", "nl\n", "nbsp\u00a0x"})
    void registerRefusesABadToken(String token) {
        ParleyException e = refusal(commands.register(bobPhone, register("fcm", token)));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, e.code());
        assertTrue(e.getMessage().contains("token"), e.getMessage());
    }

    @Test
    void registerRefusesATooLongTokenAndForeignPayloads() {
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(commands.register(bobPhone, register("fcm", "t".repeat(4097)))).code());
        ParleyException wrongType = refusal(commands.register(bobPhone, Any.pack(StringValue.of("fcm"))));
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, wrongType.code());
        assertTrue(wrongType.getMessage().contains("parley.push.v1.Register"), wrongType.getMessage());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(commands.register(bobPhone, Any.getDefaultInstance())).code());
        Any garbage = Any.newBuilder().setTypeUrl("type.googleapis.com/parley.push.v1.Register")
                .setValue(ByteString.copyFrom(new byte[] {(byte) 0xff, 0x01})).build();
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refusal(commands.register(bobPhone, garbage)).code());
        assertTrue(store.tokens("bob").isEmpty());
    }

    @Test
    void unregisterForgetsOnlyThisDevicesToken() throws Exception {
        Caller bobTablet = new Caller("bob", "tablet", Map.of());
        await(commands.register(bobPhone, register("fcm", "p")));
        await(commands.register(bobTablet, register("fcm", "t")));
        assertEquals(Any.getDefaultInstance(), await(commands.unregister(bobPhone, Any.getDefaultInstance())));
        assertEquals(List.of(new DeviceToken("tablet", "fcm", "t")), store.tokens("bob"));
        await(commands.unregister(bobTablet, Any.pack(Unregister.getDefaultInstance())));
        await(commands.unregister(bobTablet, Any.getDefaultInstance())); // nothing left: same answer
        assertTrue(store.tokens("bob").isEmpty());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(commands.unregister(bobPhone, register("fcm", "x"))).code());
    }

    @Test
    void muteIsTheCallersOwnAndNeedsMembership() throws Exception {
        assertEquals(Any.getDefaultInstance(), await(commands.mute(bobPhone, mute("d:alice:bob", NOW + 60_000))));
        assertTrue(store.muted("bob", "d:alice:bob", NOW));
        assertFalse(store.muted("alice", "d:alice:bob", NOW), "only the caller's");
        await(commands.mute(bobPhone, mute("d:alice:bob", 0)));
        assertFalse(store.muted("bob", "d:alice:bob", NOW), "0 unmutes");
        await(commands.mute(bobPhone, mute("d:alice:bob", Long.MAX_VALUE)));
        await(commands.mute(bobPhone, mute("d:alice:bob", NOW - 1)));
        assertFalse(store.muted("bob", "d:alice:bob", NOW), "an until already past unmutes");

        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(commands.mute(bobPhone, mute("g:other", NOW + 1))).code());
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(commands.mute(bobPhone, mute("g:nope", NOW + 1))).code());
        assertFalse(store.muted("bob", "g:other", NOW));
    }

    @Test
    void muteRefusesBadInput() {
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, refusal(commands.mute(bobPhone, mute("", 1))).code());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(commands.mute(bobPhone, mute("g:" + "x".repeat(300), 1))).code());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(commands.mute(bobPhone, mute("d:alice:bob", -5))).code());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                refusal(commands.mute(bobPhone, register("fcm", "t"))).code());
    }

    @Test
    void aClosedStoreAnswersRetryableUnavailable() {
        store.close();
        ParleyException e = refusal(commands.register(bobPhone, register("fcm", "t")));
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, e.code());
        assertTrue(e.retryable());
    }
}
