package io.parley.type.file;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.api.ParleyException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;
import io.parley.type.file.proto.DownloadRequest;
import io.parley.type.file.proto.DownloadTicket;
import io.parley.type.file.proto.UploadRequest;
import io.parley.type.file.proto.UploadTicket;
import io.parley.type.support.CommandHandlers;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** The handlers of {@code file.upload} and {@code file.download} (command SPI). Thread-safe. */
final class FileCommands {
    private final Files files;

    FileCommands(Files files) {
        this.files = files;
    }

    CompletionStage<Any> upload(CommandContext context, Any payload) {
        UploadRequest request;
        try {
            request = payload.unpack(UploadRequest.class);
        } catch (InvalidProtocolBufferException e) {
            return CommandHandlers.invalidPayload("parley.file.v1.UploadRequest");
        }
        return files.upload(context.userId(), request).thenApply(Any::pack);
    }

    /** Runs on a core worker: the message is read there (the facade authorizes membership), the rest on the workers. */
    CompletionStage<Any> download(CommandContext context, Any payload) {
        DownloadRequest request;
        try {
            request = payload.unpack(DownloadRequest.class);
        } catch (InvalidProtocolBufferException e) {
            return CommandHandlers.invalidPayload("parley.file.v1.DownloadRequest");
        }
        try {
            if (request.getConversation().isEmpty() || request.getSeq() < 1) {
                throw new ParleyException(ErrorCode.ERROR_CODE_INVALID_REQUEST, "name a conversation and a seq >= 1");
            }
            Message message = context.message(request.getConversation(), request.getSeq()).orElseThrow(() ->
                    new ParleyException(ErrorCode.ERROR_CODE_NOT_FOUND, "no message " + request.getSeq() + " in "
                            + request.getConversation()));
            return files.download(context.userId(), message).thenApply(Any::pack);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** @return the {@code file.upload} handler, naming its payload and answer for the core's catalog */
    CommandHandler uploadHandler() {
        return CommandHandlers.described(this::upload, UploadRequest.getDescriptor(), UploadTicket.getDescriptor());
    }

    /** @return the {@code file.download} handler, naming its payload and answer for the core's catalog */
    CommandHandler downloadHandler() {
        return CommandHandlers.described(this::download, DownloadRequest.getDescriptor(),
                DownloadTicket.getDescriptor());
    }
}
