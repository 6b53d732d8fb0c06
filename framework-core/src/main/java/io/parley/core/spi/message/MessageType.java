package io.parley.core.spi.message;

import org.osgi.service.component.annotations.ComponentPropertyType;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Component property type that sets {@value MessageProcessor#TYPE} on a DS component:
 * <pre>
 * &#64;Component(service = MessageProcessor.class)
 * &#64;MessageType("text")
 * public final class TextComponent implements MessageProcessor { ... }
 * </pre>
 */
@ComponentPropertyType
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface MessageType {
    String PREFIX_ = "parley.";

    /** The message type handled, the routing key on the wire. */
    String value();
}
