package io.parley.type.file;

import com.google.protobuf.Descriptors;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.ProcessResult;
import io.parley.type.file.proto.File;
import io.parley.type.file.proto.Image;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/** The processor of {@code file} or {@code image} messages; both share one {@link Files}. Thread-safe. */
final class FileProcessor implements MessageProcessor {
    private final Files files;
    private final boolean image;

    FileProcessor(Files files, String type) {
        this.files = files;
        this.image = type.equals(FileTypes.IMAGE);
    }

    @Override
    public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
        return image ? files.acceptImage(draft) : files.acceptFile(draft);
    }

    @Override
    public Optional<Descriptors.Descriptor> bodyDescriptor() {
        return Optional.of(image ? Image.getDescriptor() : File.getDescriptor());
    }

    @Override
    public CompletionStage<Void> released(Message original) {
        return files.release(original);
    }
}
