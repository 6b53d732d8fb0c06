package io.parley.core.internal;

import io.parley.core.api.Ids;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP API's device id is its own: a client's hello with it is refused, so what it sent cannot pass as the API's. */
class ReservedDeviceTest {

    @Test
    void aHelloWithTheHttpApisDeviceIdIsRefused() throws Exception {
        try (TestNode node = new TestNode(new TinyStore(), Map.of())) {
            TestNode.Device device = node.open("alice", Ids.HTTP_API_DEVICE);
            Frame answer = device.await(f -> f.getRequestId() == 1);
            assertEquals(ErrorCode.ERROR_CODE_INVALID_REQUEST, answer.getError().getCode(), answer.toString());
            assertTrue(answer.getError().getMessage().contains("reserved for the HTTP API"), answer.toString());
            device.awaitClosed();
            node.connect("alice", "http-api-2"); // only that one id
        }
    }
}
