package io.parley.itest;

import com.google.protobuf.Any;
import io.parley.auth.jwt.JwtTokens;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Ping;
import io.parley.core.proto.Send;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * Bad input against a running server, each case on its own raw connection, with the documented outcome
 * (docs/protocol.md §6): the error code, and whether the connection is closed or stays usable.
 */
final class BadInputChecks {
    private BadInputChecks() {
    }

    static void run(String host, int port, JwtTokens tokens, String secret) throws Exception {
        // a frame before hello
        try (RawConnection c = new RawConnection(host, port)) {
            c.send(Frame.newBuilder().setRequestId(1).setPing(Ping.getDefaultInstance()).build());
            expectError(c.read(), 1, ErrorCode.ERROR_CODE_UNAUTHENTICATED);
            assertTrue("closed after a frame before hello", c.closedByServer());
        }
        // bytes that are not a Frame
        try (RawConnection c = new RawConnection(host, port)) {
            c.sendRaw(new byte[]{0, 0, 0, 4, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
            expectError(c.read(), 0, ErrorCode.ERROR_CODE_BAD_FRAME);
            assertTrue("closed after a malformed frame", c.closedByServer());
        }
        // a length prefix far over the limit: refused before anything is read
        try (RawConnection c = new RawConnection(host, port)) {
            c.sendRaw(new byte[]{0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 2, 3});
            expectError(c.read(), 0, ErrorCode.ERROR_CODE_FRAME_TOO_LARGE);
            assertTrue("closed after an oversized frame", c.closedByServer());
        }
        // a truncated frame, then the client goes away: nothing to answer, the server just cleans up
        try (RawConnection c = new RawConnection(host, port)) {
            c.sendRaw(new byte[]{0, 0, 0, 100, 1, 2, 3});
            c.shutdownOutput();
            assertTrue("closed after a truncated frame", c.closedByServer());
        }
        // a forged token
        String forged = new JwtTokens("another-secret-another-secret-another-secret".getBytes(StandardCharsets.UTF_8), "parley")
                .mint("mallory", null, Duration.ofMinutes(5));
        helloRefused(host, port, forged, ErrorCode.ERROR_CODE_UNAUTHENTICATED);
        helloRefused(host, port, "not-a-jwt", ErrorCode.ERROR_CODE_UNAUTHENTICATED);
        // an expired token: minted two hours ago for one hour
        Clock past = Clock.fixed(Instant.now().minus(Duration.ofHours(2)), ZoneOffset.UTC);
        String expired = new JwtTokens(secret.getBytes(StandardCharsets.UTF_8), "parley", Duration.ofSeconds(30), past)
                .mint("mallory", null, Duration.ofHours(1));
        helloRefused(host, port, expired, ErrorCode.ERROR_CODE_TOKEN_EXPIRED);
        // errors on an authenticated connection leave it open
        try (RawConnection c = new RawConnection(host, port)) {
            c.send(hello(1, tokens.mint("ivan", null, Duration.ofMinutes(5))));
            assertEquals(Frame.OpCase.HELLO_OK, c.read().getOpCase());
            c.send(Frame.newBuilder().setRequestId(2).setSend(Send.newBuilder().setPeer("judy").setType("text")
                    .setBody(Any.getDefaultInstance())).build()); // no client_msg_id
            expectError(readSkippingSync(c), 2, ErrorCode.ERROR_CODE_INVALID_REQUEST);
            c.send(Frame.newBuilder().setRequestId(3).setSend(Send.newBuilder().setClientMsgId("m1").setPeer("judy")
                    .setType("no-such-type").setBody(Any.getDefaultInstance())).build());
            expectError(readSkippingSync(c), 3, ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE);
            c.send(Frame.newBuilder().setRequestId(4).setSend(Send.newBuilder().setClientMsgId("m2")
                    .setConversation("d:judy:kate").setType("text").setBody(Any.getDefaultInstance())).build());
            // another pair's conversation: answered as if it did not exist
            expectError(readSkippingSync(c), 4, ErrorCode.ERROR_CODE_NOT_FOUND);
            c.send(hello(5, tokens.mint("ivan", null, Duration.ofMinutes(5))));
            expectError(readSkippingSync(c), 5, ErrorCode.ERROR_CODE_INVALID_REQUEST);
            c.send(Frame.newBuilder().setRequestId(6).setPing(Ping.newBuilder().setClientTime(42)).build());
            Frame pong = readSkippingSync(c);
            assertEquals(6, pong.getRequestId());
            assertEquals(42, pong.getPong().getClientTime());
        }
        // no hello at all: the handshake timeout closes the connection
        try (RawConnection c = new RawConnection(host, port)) {
            expectError(c.read(), 0, ErrorCode.ERROR_CODE_HANDSHAKE_TIMEOUT);
            assertTrue("closed after the handshake timeout", c.closedByServer());
        }
    }

    private static void helloRefused(String host, int port, String token, ErrorCode expected) throws IOException {
        try (RawConnection c = new RawConnection(host, port)) {
            c.send(hello(7, token));
            expectError(c.read(), 7, expected);
            assertTrue("closed after a refused hello", c.closedByServer());
        }
    }

    private static Frame hello(long rid, String token) {
        return Frame.newBuilder().setRequestId(rid).setHello(Hello.newBuilder()
                .setProtocolVersion(1).setToken(token).setDeviceId("raw")).build();
    }

    /** Skips server-initiated frames (none expected here, but a delivery may race) and returns the next response. */
    private static Frame readSkippingSync(RawConnection c) throws IOException {
        Frame f;
        do {
            f = c.read();
        } while (f.getRequestId() == 0 && f.getOpCase() != Frame.OpCase.ERROR);
        return f;
    }

    private static void expectError(Frame f, long requestId, ErrorCode code) {
        assertEquals("expected an error frame, got " + f, Frame.OpCase.ERROR, f.getOpCase());
        assertEquals(f.toString(), code, f.getError().getCode());
        assertEquals(f.toString(), requestId, f.getRequestId());
    }
}
