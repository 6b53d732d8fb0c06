package io.parley.core.spi.command;

import org.osgi.service.component.annotations.ComponentPropertyType;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Component property type that sets {@value CommandHandler#TYPE} on a DS component:
 * <pre>
 * &#64;Component(service = CommandHandler.class)
 * &#64;CommandType("recall")
 * public final class RecallComponent implements CommandHandler { ... }
 * </pre>
 */
@ComponentPropertyType
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface CommandType {
    String PREFIX_ = "parley.";

    /** The command type handled, the routing key on the wire. */
    String value();
}
