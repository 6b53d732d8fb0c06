package io.parley.type.sticker;

import com.google.protobuf.Descriptors;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.sticker.proto.Sticker;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The processor of {@code sticker} messages: checks them against the in-memory snapshot of the packs only (no I/O),
 * so its stage is complete when {@link #process} returns. Thread-safe.
 */
final class StickerProcessor implements MessageProcessor {
    private final StickerPacks packs;

    StickerProcessor(StickerPacks packs) {
        this.packs = packs;
    }

    @Override
    public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
        try {
            return CompletableFuture.completedFuture(packs.accept(draft));
        } catch (ParleyException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public Optional<Descriptors.Descriptor> bodyDescriptor() {
        return Optional.of(Sticker.getDescriptor());
    }
}
