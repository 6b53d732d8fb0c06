package org.example.parley.location;

import com.google.protobuf.Descriptors;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.MessageType;
import io.parley.core.spi.message.ProcessResult;
import org.example.parley.location.proto.Location;
import org.osgi.service.component.annotations.Component;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The {@code location} message type: the OSGi boundary around {@link LocationRules}. Registered as a
 * {@link MessageProcessor} with {@code parley.message.type=location}; names its body message so the HTTP API takes
 * and returns location bodies as JSON and lists the type at {@code GET /v1/types}.
 */
@Component(service = MessageProcessor.class)
@MessageType("location")
public final class LocationComponent implements MessageProcessor {
    private final LocationRules rules = new LocationRules();

    /** CPU only, never blocks; runs on a core worker, or on the event loop since the type is pure. */
    @Override
    public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
        return CompletableFuture.completedFuture(rules.check(draft));
    }

    /** The check reads the draft only and answers at once. */
    @Override
    public boolean pure() {
        return true;
    }

    @Override
    public Optional<Descriptors.Descriptor> bodyDescriptor() {
        return Optional.of(Location.getDescriptor());
    }
}
