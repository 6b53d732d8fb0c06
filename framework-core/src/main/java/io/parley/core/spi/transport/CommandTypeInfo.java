package io.parley.core.spi.transport;

import com.google.protobuf.Descriptors;

import java.util.Objects;
import java.util.Optional;

/**
 * One deployed command type in the core's catalog ({@link Receiver#commandTypes()}).
 *
 * @param type    the command type, e.g. {@code "recall"}
 * @param payload the protobuf message of its payload, if its handler names one
 * @param result  the protobuf message of its answer, if its handler names one
 * @since 1.2
 */
public record CommandTypeInfo(String type, Optional<Descriptors.Descriptor> payload,
                              Optional<Descriptors.Descriptor> result) {

    public CommandTypeInfo {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(result, "result");
    }
}
