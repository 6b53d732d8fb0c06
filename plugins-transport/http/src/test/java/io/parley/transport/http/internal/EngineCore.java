package io.parley.transport.http.internal;

import com.google.protobuf.Descriptors;
import io.parley.auth.jwt.JwtTokens;
import io.parley.core.api.Principal;
import io.parley.core.internal.InProcessCore;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import io.parley.core.spi.transport.CommandTypeInfo;
import io.parley.core.spi.transport.Connection;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.spi.transport.MessageTypeInfo;
import io.parley.core.spi.transport.Receiver;
import io.parley.store.memory.MemoryMessageStore;
import io.parley.type.text.TextRules;
import io.parley.type.text.proto.Text;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The real engine in-process (memory store, the text type, a JWT authenticator) behind the API under test, so the
 * tests see the protocol's rules as the server applies them. Type {@code blackhole} is served by a processor that
 * never answers (for time-outs); tests add command handlers ({@link #command}) and types. Counts the trusted
 * sessions the API opens and closes, and their principals.
 */
final class EngineCore implements Receiver, AutoCloseable {

    final AtomicInteger opened = new AtomicInteger();
    final AtomicInteger closed = new AtomicInteger();
    final List<Principal> principals = new CopyOnWriteArrayList<>();
    private final InProcessCore core;

    EngineCore(String jwtSecret) {
        TextRules rules = new TextRules(4000);
        JwtTokens tokens = new JwtTokens(jwtSecret.getBytes(StandardCharsets.UTF_8), "parley");
        this.core = InProcessCore.start(new MemoryMessageStore(), Map.of())
                .authenticator(tokens::verify)
                .processor("text", new MessageProcessor() {
                    @Override
                    public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
                        return CompletableFuture.completedFuture(rules.check(draft));
                    }

                    @Override
                    public Optional<Descriptors.Descriptor> bodyDescriptor() {
                        return Optional.of(Text.getDescriptor());
                    }
                })
                .processor("blackhole", (context, draft) -> new CompletableFuture<>());
    }

    @Override
    public InboundSession open(Connection connection) {
        throw new UnsupportedOperationException("the HTTP API only opens trusted sessions");
    }

    @Override
    public InboundSession openAuthenticated(Connection connection, Principal principal) {
        opened.incrementAndGet();
        principals.add(principal);
        InboundSession session = core.receiver().openAuthenticated(connection, principal);
        return new InboundSession() {
            @Override
            public void onFrame(Frame frame) {
                session.onFrame(frame);
            }

            @Override
            public void onClosed() {
                closed.incrementAndGet();
                session.onClosed();
            }

            @Override
            public boolean isAuthenticated() {
                return session.isAuthenticated();
            }
        };
    }

    @Override
    public int maxFrameBytes() {
        return core.receiver().maxFrameBytes();
    }

    @Override
    public List<String> problems() {
        return core.receiver().problems();
    }

    @Override
    public List<MessageTypeInfo> messageTypes() {
        return core.receiver().messageTypes();
    }

    @Override
    public List<CommandTypeInfo> commandTypes() {
        return core.receiver().commandTypes();
    }

    @Override
    public int kick(String user, String device, String reason) {
        return core.receiver().kick(user, device, reason);
    }

    /** The engine as a TCP or WebSocket transport sees it: for tests that connect client devices beside the API. */
    Receiver engine() {
        return core.receiver();
    }

    /** Serves command {@code type} with {@code handler}, as a registered service would; from the test's thread. */
    EngineCore command(String type, CommandHandler handler) {
        core.command(type, handler);
        return this;
    }

    /** Serves message type {@code type} with {@code processor}, as a registered service would. */
    EngineCore processor(String type, MessageProcessor processor) {
        core.processor(type, processor);
        return this;
    }

    @Override
    public void close() {
        core.close();
    }

    /** An error frame, for tests of the gateway's mapping. */
    static Frame error(long requestId, ErrorCode code, String message) {
        return Frame.newBuilder().setRequestId(requestId)
                .setError(Error.newBuilder().setCode(code).setMessage(message)).build();
    }
}
