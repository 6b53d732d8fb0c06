package io.parley.type.support;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** Command handlers as a message type's bundle registers them. Stateless. */
public final class CommandHandlers {

    private CommandHandlers() {
    }

    /**
     * @param body    what the command does; a {@link RuntimeException} it throws is returned as the failed stage
     * @param payload the protobuf message of the command's payload, for the core's catalog
     * @param result  the protobuf message of its answer, for the core's catalog
     * @return {@code body}, naming {@code payload} and {@code result}; thread-safe if {@code body} is
     */
    public static CommandHandler described(CommandHandler body, Descriptors.Descriptor payload,
                                           Descriptors.Descriptor result) {
        return new CommandHandler() {
            @Override
            public CompletionStage<Any> execute(CommandContext context, Any request) {
                try {
                    return body.execute(context, request);
                } catch (RuntimeException e) {
                    return CompletableFuture.failedFuture(e);
                }
            }

            @Override
            public Optional<Descriptors.Descriptor> payloadDescriptor() {
                return Optional.of(payload);
            }

            @Override
            public Optional<Descriptors.Descriptor> resultDescriptor() {
                return Optional.of(result);
            }
        };
    }

    /** @return failed with {@code INVALID_REQUEST}: the payload is not the {@code expected} protobuf message */
    public static CompletionStage<Any> invalidPayload(String expected) {
        return CompletableFuture.failedFuture(new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST,
                "the payload must be a " + expected));
    }
}
