package io.parley.type.sticker;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;
import io.parley.type.sticker.proto.StickerCatalog;
import io.parley.type.sticker.proto.StickerListRequest;
import io.parley.type.sticker.proto.StickerPack;
import io.parley.type.sticker.proto.StickerPackPut;
import io.parley.type.sticker.proto.StickerPackWithdraw;
import io.parley.type.support.CommandHandlers;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The handlers of {@code sticker.list} (any authenticated caller) and of {@code sticker.pack.put} and
 * {@code sticker.pack.withdraw} (trusted callers only: the HTTP admin API, {@link CommandContext#trusted()}).
 * Thread-safe; each returns at once (the work runs on the sticker bundle's workers).
 */
final class StickerCommands {
    static final String ADMIN_ONLY = "sticker packs are managed through the HTTP admin API";

    private final StickerPacks packs;

    StickerCommands(StickerPacks packs) {
        this.packs = packs;
    }

    CompletionStage<Any> list(CommandContext context, Any payload) {
        if (!payload.equals(Any.getDefaultInstance()) && !payload.is(StickerListRequest.class)) {
            return CommandHandlers.invalidPayload("parley.sticker.v1.StickerListRequest");
        }
        return packs.list(context.userId()).thenApply(Any::pack);
    }

    CompletionStage<Any> put(CommandContext context, Any payload) {
        if (!context.trusted()) {
            return forbidden();
        }
        StickerPackPut request;
        try {
            request = payload.unpack(StickerPackPut.class);
        } catch (InvalidProtocolBufferException e) {
            return CommandHandlers.invalidPayload("parley.sticker.v1.StickerPackPut");
        }
        return packs.put(request).thenApply(Any::pack);
    }

    CompletionStage<Any> withdraw(CommandContext context, Any payload) {
        if (!context.trusted()) {
            return forbidden();
        }
        StickerPackWithdraw request;
        try {
            request = payload.unpack(StickerPackWithdraw.class);
        } catch (InvalidProtocolBufferException e) {
            return CommandHandlers.invalidPayload("parley.sticker.v1.StickerPackWithdraw");
        }
        return packs.withdraw(request.getId()).thenApply(Any::pack);
    }

    /** @return the {@code sticker.list} handler, naming its payload and answer for the core's catalog */
    CommandHandler listHandler() {
        return CommandHandlers.described(this::list, StickerListRequest.getDescriptor(),
                StickerCatalog.getDescriptor());
    }

    /** @return the {@code sticker.pack.put} handler, naming its payload and answer for the core's catalog */
    CommandHandler putHandler() {
        return CommandHandlers.described(this::put, StickerPackPut.getDescriptor(), StickerPack.getDescriptor());
    }

    /** @return the {@code sticker.pack.withdraw} handler, naming its payload and answer for the core's catalog */
    CommandHandler withdrawHandler() {
        return CommandHandlers.described(this::withdraw, StickerPackWithdraw.getDescriptor(),
                StickerPack.getDescriptor());
    }

    private static CompletionStage<Any> forbidden() {
        return CompletableFuture.failedFuture(new ParleyException(ErrorCode.ERROR_CODE_FORBIDDEN, ADMIN_ONLY));
    }
}
