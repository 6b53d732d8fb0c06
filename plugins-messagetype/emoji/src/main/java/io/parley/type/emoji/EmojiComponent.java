package io.parley.type.emoji;

import com.google.protobuf.Descriptors;
import io.parley.type.emoji.proto.Emoji;
import io.parley.core.proto.Message;
import io.parley.core.spi.message.MessageContext;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.message.MessageType;
import io.parley.core.spi.message.ProcessResult;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** The {@code emoji} message type: the OSGi boundary around {@link EmojiRules}. PID {@code parley.type.emoji}. */
@Component(service = MessageProcessor.class, configurationPid = "parley.type.emoji")
@MessageType("emoji")
@Designate(ocd = EmojiComponent.Config.class)
public final class EmojiComponent implements MessageProcessor {

    @ObjectClassDefinition(id = "parley.type.emoji", name = "Parley emoji messages")
    public @interface Config {
        @AttributeDefinition(description = "Maximum code points in one emoji sequence")
        int max_code_points() default 16;
    }

    private final EmojiRules rules;

    @Activate
    public EmojiComponent(Config config) {
        this.rules = new EmojiRules(config.max_code_points());
    }

    @Override
    public CompletionStage<ProcessResult> process(MessageContext context, Message draft) {
        return CompletableFuture.completedFuture(rules.check(draft));
    }

    /** The check reads the draft only and returns a completed stage. */
    @Override
    public boolean pure() {
        return true;
    }

    @Override
    public Optional<Descriptors.Descriptor> bodyDescriptor() {
        return Optional.of(Emoji.getDescriptor());
    }
}
