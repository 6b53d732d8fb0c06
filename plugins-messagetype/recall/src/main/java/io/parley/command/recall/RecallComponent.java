package io.parley.command.recall;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import io.parley.command.recall.proto.Recall;
import io.parley.command.recall.proto.RecallResult;
import io.parley.core.spi.command.CommandContext;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.command.CommandType;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * The {@code recall} command: the OSGi boundary around {@link RecallHandler}. PID {@code parley.command.recall}; a
 * configuration change applies to the next command without unregistering the service.
 */
@Component(service = CommandHandler.class, configurationPid = "parley.command.recall")
@CommandType(RecallRules.COMMAND_TYPE)
@Designate(ocd = RecallComponent.Config.class)
public final class RecallComponent implements CommandHandler {

    @ObjectClassDefinition(id = "parley.command.recall", name = "Parley recall command")
    public @interface Config {
        @AttributeDefinition(description = "How long after sending its sender may recall a message, in seconds; 0: "
                + "never (a group's owner and admins recall any message at any time)")
        long window_seconds() default 120;
    }

    private final RecallHandler handler;

    @Activate
    public RecallComponent(Config config) {
        this.handler = new RecallHandler(rulesOf(config));
    }

    @Modified
    void modified(Config config) {
        handler.rules(rulesOf(config));
    }

    private static RecallRules rulesOf(Config config) {
        return new RecallRules(Duration.ofSeconds(config.window_seconds()));
    }

    @Override
    public CompletionStage<Any> execute(CommandContext context, Any payload) {
        return handler.execute(context, payload);
    }

    @Override
    public Optional<Descriptors.Descriptor> payloadDescriptor() {
        return Optional.of(Recall.getDescriptor());
    }

    @Override
    public Optional<Descriptors.Descriptor> resultDescriptor() {
        return Optional.of(RecallResult.getDescriptor());
    }
}
