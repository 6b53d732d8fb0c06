package io.parley.type.support;

import com.google.protobuf.Any;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.proto.Send;
import io.parley.core.spi.command.CommandHandler;
import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CommandHandlersTest {

    @Test
    void aDescribedHandlerNamesItsMessagesAndRunsItsBody() throws Exception {
        Any answer = Any.pack(Message.getDefaultInstance());
        CommandHandler handler = CommandHandlers.described((context, payload) -> CompletableFuture.completedFuture(
                answer), Send.getDescriptor(), Message.getDescriptor());
        assertEquals(Optional.of(Send.getDescriptor()), handler.payloadDescriptor());
        assertEquals(Optional.of(Message.getDescriptor()), handler.resultDescriptor());
        assertSame(answer, handler.execute(null, Any.getDefaultInstance()).toCompletableFuture().get());
    }

    @Test
    void whatTheBodyThrowsIsTheFailedStage() {
        IllegalStateException bug = new IllegalStateException("bug");
        CommandHandler handler = CommandHandlers.described((context, payload) -> {
            throw bug;
        }, Send.getDescriptor(), Message.getDescriptor());
        assertSame(bug, assertThrows(ExecutionException.class,
                () -> handler.execute(null, Any.getDefaultInstance()).toCompletableFuture().get()).getCause());
    }

    @Test
    void anInvalidPayloadIsAnInvalidRequestNamingTheExpectedMessage() {
        ParleyException e = assertInstanceOf(ParleyException.class, assertThrows(ExecutionException.class,
                () -> CommandHandlers.invalidPayload("parley.x.v1.Thing").toCompletableFuture().get()).getCause());
        assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, e.code());
        assertEquals("the payload must be a parley.x.v1.Thing", e.getMessage());
    }
}
