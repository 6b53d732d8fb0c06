package io.parley.type.text;

import com.google.protobuf.Descriptors;
import io.parley.type.text.proto.Text;
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

/** The {@code text} message type: the OSGi boundary around {@link TextRules}. PID {@code parley.type.text}. */
@Component(service = MessageProcessor.class, configurationPid = "parley.type.text")
@MessageType("text")
@Designate(ocd = TextComponent.Config.class)
public final class TextComponent implements MessageProcessor {

    @ObjectClassDefinition(id = "parley.type.text", name = "Parley text messages")
    public @interface Config {
        @AttributeDefinition(description = "Maximum length of a text, in Unicode code points")
        int max_length() default 4000;
    }

    private final TextRules rules;

    @Activate
    public TextComponent(Config config) {
        this.rules = new TextRules(config.max_length());
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
        return Optional.of(Text.getDescriptor());
    }
}
