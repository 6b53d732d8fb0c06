package io.parley.core.internal;

import com.google.inject.Guice;
import com.google.inject.Injector;
import io.parley.core.api.Principal;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Send;
import io.parley.core.spi.transport.InboundSession;
import io.parley.core.testing.ComponentConfigs;
import io.parley.core.testing.RecordingConnection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine's Guice wiring, its routing of frames to its parts, and the rule that no part refers back to it. */
class EngineWiringTest {

    private Injector injector;
    private Engine engine;

    @BeforeEach
    void start() {
        injector = Guice.createInjector(new EngineModule(ComponentConfigs.of(EngineConfig.class, Map.of())));
        engine = injector.getInstance(Engine.class);
    }

    @AfterEach
    void stop() {
        engine.shutdown();
    }

    @Test
    void everyPartIsOneInstancePerInjector() {
        assertSame(engine, injector.getInstance(Engine.class));
        for (Class<?> part : List.of(Sessions.class, SendPipeline.class, Sync.class, GroupOps.class, ReadState.class,
                ConversationLists.class, Commands.class, Authorization.class, Delivery.class, CurrentStore.class,
                SessionRegistry.class, GroupService.class, ReadCounter.class, Interceptors.class, MessageIds.class,
                CurrentLink.class, ClusterNode.class, Events.class, SessionListeners.class)) {
            assertSame(injector.getInstance(part), injector.getInstance(part), part.getSimpleName());
        }
        assertSame(injector.getInstance(Commands.class).handlers(), engine.commandHandlers());
        assertSame(injector.getInstance(Interceptors.class), engine.interceptors());
        assertSame(injector.getInstance(ClusterNode.class), engine.localNode());
    }

    @Test
    void problemsNameWhatIsMissing() {
        assertEquals(List.of("no message store is running", "no authenticator is running"), engine.problems());
    }

    @Test
    void aFrameBeforeHelloClosesTheConnection() throws InterruptedException {
        RecordingConnection c = new RecordingConnection();
        engine.open(c).onFrame(Frame.newBuilder().setRequestId(7).setPing(Ping.newBuilder().setClientTime(1)).build());
        Frame error = c.next();
        assertEquals(7, error.getRequestId());
        assertEquals(ErrorCode.ERROR_CODE_UNAUTHENTICATED, error.getError().getCode());
        assertTrue(c.awaitClosed(), "closed");
    }

    @Test
    void aTrustedSessionsFramesAreRoutedAndRefusalsAnswered() throws InterruptedException {
        RecordingConnection c = new RecordingConnection();
        InboundSession session = engine.openAuthenticated(c,
                new Principal("alice", "api", Instant.now().plusSeconds(60)));
        session.onFrame(Frame.newBuilder().setRequestId(1).setPing(Ping.newBuilder().setClientTime(42)).build());
        Frame pong = c.next();
        assertEquals(1, pong.getRequestId());
        assertEquals(42, pong.getPong().getClientTime());
        session.onFrame(Frame.newBuilder().setRequestId(2).setSend(Send.newBuilder().setClientMsgId("m1")
                .setPeer("bob").setType("text")).build());
        Frame refused = c.next();
        assertEquals(2, refused.getRequestId());
        assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, refused.getError().getCode(), "no store bound");
        assertTrue(refused.getError().getRetryable());
    }

    @Test
    void noPartOfTheEngineRefersBackToIt() throws IOException {
        Pattern engine = Pattern.compile("\\bEngine\\b");
        Pattern commentsAndStrings = Pattern.compile("(?s)/\\*.*?\\*/|//[^\\n]*|\"(?:\\\\.|[^\"\\\\\\n])*\"");
        List<String> offenders = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of("src/main/java/io/parley/core/internal"))) {
            for (Path file : files.toList()) {
                String name = file.getFileName().toString();
                if (name.equals("Engine.java") || name.equals("EngineModule.java") || name.equals("EngineComponent.java")) {
                    continue;
                }
                String code = commentsAndStrings.matcher(Files.readString(file)).replaceAll("");
                if (engine.matcher(code).find()) {
                    offenders.add(name);
                }
            }
        }
        assertEquals(List.of(), offenders, "classes that refer to Engine (pass them a narrow part instead)");
    }
}
