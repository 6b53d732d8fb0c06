package io.parley.core.spi.transport;

import com.google.protobuf.Descriptors;

import java.util.Objects;
import java.util.Optional;

/**
 * One deployed message type in the core's catalog ({@link Receiver#messageTypes()}).
 *
 * @param type the type, the routing key on the wire, e.g. {@code "text"}
 * @param body the protobuf message of its bodies, if its processor names one
 */
public record MessageTypeInfo(String type, Optional<Descriptors.Descriptor> body) {

    public MessageTypeInfo {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(body, "body");
    }

    /** The type URL its bodies are packed with, e.g. {@code type.googleapis.com/parley.text.v1.Text}, if known. */
    public Optional<String> typeUrl() {
        return body.map(d -> "type.googleapis.com/" + d.getFullName());
    }
}
