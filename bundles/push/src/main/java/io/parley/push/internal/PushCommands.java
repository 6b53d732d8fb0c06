package io.parley.push.internal;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.command.CommandContext;
import io.parley.push.proto.Mute;
import io.parley.push.proto.Register;
import io.parley.push.proto.Unregister;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The push commands, validated and applied to the {@link TokenStore} for the calling user and device. Each answers
 * with an empty payload once the change is committed, or fails with a {@link ParleyException}: {@code
 * INVALID_REQUEST} for a payload that breaks the rules below, {@code NOT_FOUND} for a mute of a conversation the
 * caller is not a member of, retryable {@code UNAVAILABLE} when the store cannot take the write.
 *
 * <p>Threading: called on a core worker; never blocks (membership is the core's in-memory check, the write is
 * queued). Thread-safe.
 */
public final class PushCommands {

    public static final String REGISTER = "push.register";
    public static final String UNREGISTER = "push.unregister";
    public static final String MUTE = "push.mute";

    public static final int MAX_PLATFORM_LENGTH = 32;
    public static final int MAX_TOKEN_LENGTH = 4096;
    public static final int MAX_CONVERSATION_LENGTH = 256;

    private final TokenStore store;

    public PushCommands(TokenStore store) {
        this.store = store;
    }

    /** {@code push.register} {platform, token}: the device's token, replacing its previous one. */
    public CompletionStage<Any> register(CommandContext context, Any payload) {
        try {
            Register register = checkRegister(payload);
            return store.register(context.userId(), context.deviceId(), register.getPlatform(), register.getToken())
                    .thenApply(done -> Any.getDefaultInstance());
        } catch (ParleyException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** {@code push.unregister} {}: forgets the device's token; answers the same whether there was one or not. */
    public CompletionStage<Any> unregister(CommandContext context, Any payload) {
        try {
            checkUnregister(payload);
            return store.unregister(context.userId(), context.deviceId()).thenApply(done -> Any.getDefaultInstance());
        } catch (ParleyException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** {@code push.mute} {conversation, until}: the caller's own mute; an {@code until} already past unmutes. */
    public CompletionStage<Any> mute(CommandContext context, Any payload) {
        try {
            Mute mute = checkMute(payload);
            context.members(mute.getConversation()); // NOT_FOUND unless the caller is a member
            long until = mute.getUntil() <= context.receivedAt().toEpochMilli() ? 0 : mute.getUntil();
            return store.mute(context.userId(), mute.getConversation(), until)
                    .thenApply(done -> Any.getDefaultInstance());
        } catch (ParleyException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** @throws ParleyException INVALID_REQUEST unless the payload is a valid {@link Register} */
    static Register checkRegister(Any payload) {
        Register register = unpack(payload, Register.class);
        String platform = register.getPlatform();
        if (platform.isEmpty() || platform.length() > MAX_PLATFORM_LENGTH || !isPlatform(platform)) {
            throw invalid("platform must have 1-" + MAX_PLATFORM_LENGTH + " characters of [A-Za-z0-9._-]");
        }
        String token = register.getToken();
        if (token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            throw invalid("token must have 1-" + MAX_TOKEN_LENGTH + " characters");
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (Character.isISOControl(c) || Character.isWhitespace(c) || Character.isSpaceChar(c)) {
                throw invalid("token must not contain spaces or control characters");
            }
        }
        return register;
    }

    /** @throws ParleyException INVALID_REQUEST unless the payload is empty or an {@link Unregister} */
    static void checkUnregister(Any payload) {
        if (!payload.getTypeUrl().isEmpty() || !payload.getValue().isEmpty()) {
            unpack(payload, Unregister.class);
        }
    }

    /** @throws ParleyException INVALID_REQUEST unless the payload is a well-formed {@link Mute} */
    static Mute checkMute(Any payload) {
        Mute mute = unpack(payload, Mute.class);
        String conversation = mute.getConversation();
        if (conversation.isEmpty() || conversation.length() > MAX_CONVERSATION_LENGTH) {
            throw invalid("conversation must have 1-" + MAX_CONVERSATION_LENGTH + " characters");
        }
        if (mute.getUntil() < 0) {
            throw invalid("until must be an epoch millisecond, or 0 to unmute");
        }
        return mute;
    }

    private static boolean isPlatform(String platform) {
        for (int i = 0; i < platform.length(); i++) {
            char c = platform.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static <T extends Message> T unpack(Any payload, Class<T> type) {
        if (!payload.is(type)) {
            String name = type.getSimpleName();
            throw invalid("payload must be a parley.push.v1." + name + " (type.googleapis.com/parley.push.v1." + name + ")");
        }
        try {
            return payload.unpack(type);
        } catch (InvalidProtocolBufferException e) {
            throw invalid("payload is not a valid parley.push.v1." + type.getSimpleName());
        }
    }

    private static ParleyException invalid(String message) {
        return new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, message);
    }
}
