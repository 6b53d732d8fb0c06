package io.parley.calls;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.CallHangup;
import io.parley.calls.proto.CallJoin;
import io.parley.calls.proto.CallJoined;
import io.parley.calls.proto.CallReject;
import io.parley.calls.proto.CallSignal;
import io.parley.calls.proto.CallStart;
import io.parley.calls.proto.CallStarted;
import io.parley.calls.proto.CallUpdate;
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.TurnCredentials;
import io.parley.calls.proto.TurnRequest;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BiFunction;

/**
 * The services the call bundle offers the core, as plain objects keyed by type: the six command handlers over a
 * {@link CallService}, and the processors of the types {@code call} and {@code call.signal}, which refuse every
 * client send ({@code FORBIDDEN}): only the server appends call events and relays signals.
 */
final class CallCommands {
    private CallCommands() {
    }

    /** @return command type → handler, for {@code service} */
    static Map<String, CommandHandler> handlers(CallService service) {
        Map<String, CommandHandler> out = new LinkedHashMap<>();
        out.put("call.start", handler(service::start, CallStart.getDescriptor(), CallStarted.getDescriptor()));
        out.put("call.join", handler(service::join, CallJoin.getDescriptor(), CallJoined.getDescriptor()));
        out.put("call.reject", handler(service::reject, CallReject.getDescriptor(), CallUpdate.getDescriptor()));
        out.put("call.hangup", handler(service::hangup, CallHangup.getDescriptor(), CallUpdate.getDescriptor()));
        out.put("call.signal", handler(service::signal, CallSignal.getDescriptor(), null));
        out.put("call.turn", handler(service::turn, TurnRequest.getDescriptor(), TurnCredentials.getDescriptor()));
        return out;
    }

    /** @return message type → a processor refusing client sends of it */
    static Map<String, MessageProcessor> processors() {
        return Map.of(CallService.EVENT_TYPE, serverOnly(CallService.EVENT_TYPE, CallEvent.getDescriptor()),
                CallService.SIGNAL_TYPE, serverOnly(CallService.SIGNAL_TYPE, Signal.getDescriptor()));
    }

    private static CommandHandler handler(BiFunction<CommandContext, Any, CompletionStage<Any>> run,
                                          Descriptors.Descriptor payload, Descriptors.Descriptor result) {
        return new CommandHandler() {
            @Override
            public CompletionStage<Any> execute(CommandContext ctx, Any body) {
                try {
                    return run.apply(ctx, body);
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
                return Optional.ofNullable(result);
            }
        };
    }

    private static MessageProcessor serverOnly(String type, Descriptors.Descriptor body) {
        return new MessageProcessor() {
            @Override
            public CompletionStage<ProcessResult> process(MessageContext ctx, Message draft) {
                return CompletableFuture.completedFuture(ProcessResult.reject(ErrorCode.ERROR_CODE_FORBIDDEN,
                        "\"" + type + "\" messages are sent by the server only; use the call.* commands"));
            }

            @Override
            public Optional<Descriptors.Descriptor> bodyDescriptor() {
                return Optional.of(body);
            }
        };
    }
}
