package io.parley.core.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzz target: decoded but hostile {@link Frame}s handed to the real engine ({@link TestNode}: wired as the core
 * bundle wires it) through the transport SPI ({@code Receiver.open}, {@code InboundSession.onFrame}/{@code onClosed}),
 * as a transport does after its decoder.
 *
 * <p>Input: a flag byte, then records of a 2-byte big-endian length and that many bytes of a serialized
 * {@code Frame} (records that do not parse are dropped: refusing them is the decoder's job, not the engine's). Flag
 * bit 0 set: the frames are sent before any hello (the session is unauthenticated); otherwise after a successful
 * hello of user {@code fuzzer}. Each frame gets a fresh request id so its answer can be matched.
 *
 * <p>Contract checked for every input: {@code onFrame} never throws; every request that has an answer ({@code Send},
 * {@code Sync}, {@code Ping}, {@code Group}, {@code ConversationList}, {@code Command}, a second {@code Hello}, and
 * every op a client may not send) is answered within 5 s, unless the core closed the connection; no answer is
 * {@code ERROR_CODE_INTERNAL} (an unexpected exception in the engine); an unauthenticated session that sends
 * anything but a hello is closed with {@code UNAUTHENTICATED}, and one whose hello is refused is closed; once the
 * client disconnects no session of any user it logged in as is left behind. Run by the {@code fuzz} surefire
 * execution (docs/fuzzing.md).
 */
class EngineFrameFuzzTest {

    /** Limits far above what one input can send: the target is the validation, not the rate limiter. */
    private static final Map<String, Object> CONFIG = Map.of(
            "limit.frames.per.connection.per.second", 1_000_000, "limit.frames.per.connection.burst", 1_000_000,
            "limit.sends.per.user.per.second", 1_000_000, "limit.sends.per.user.burst", 1_000_000,
            "limit.typing.per.connection.per.second", 1_000_000, "limit.typing.per.connection.burst", 1_000_000,
            "limit.group.adds.per.user.per.second", 1_000_000, "limit.group.adds.per.user.burst", 1_000_000,
            "limit.connections.per.ip.per.second", 1_000_000, "limit.connections.per.ip.burst", 1_000_000);
    private static final int MAX_FRAMES = 16;
    /** A fresh engine and store after this many inputs, so long runs do not grow the in-memory store without bound. */
    private static final int INPUTS_PER_ENGINE = 2_000;

    private static TestNode node;
    private static int inputs;

    @FuzzTest(maxDuration = "8s")
    void hostileFrames(byte[] input) throws Exception {
        if (input.length == 0) {
            return;
        }
        List<Frame> frames = frames(input);
        boolean preAuth = (input[0] & 1) != 0;
        TestNode n = node();

        TestNode.Device device;
        Set<String> users = new HashSet<>();
        if (preAuth) {
            device = new TestNode.Device("fuzz:1");
            device.session = n.engine.open(device);
        } else {
            device = n.connect("fuzzer", "fz");
            users.add("fuzzer");
        }

        Map<Long, Frame> expected = new LinkedHashMap<>();
        long rid = 1_000;
        boolean authenticated = !preAuth;
        boolean mustClose = false;
        for (Frame f : frames) {
            Frame frame = f.toBuilder().setRequestId(++rid).build();
            if (!authenticated && frame.getOpCase() == Frame.OpCase.HELLO) {
                Hello hello = frame.getHello();
                if (!hello.getToken().isEmpty()) {
                    users.add(hello.getToken()); // TestNode's authenticator: the token is the user
                }
            }
            if (device.closed.isDone()) {
                break; // closed by the core (a refused hello): nothing more reaches it
            }
            try {
                device.write(frame);
            } catch (RuntimeException e) {
                throw new AssertionError("onFrame threw on " + frame, e);
            }
            if (!authenticated) {
                if (frame.getOpCase() != Frame.OpCase.HELLO) {
                    mustClose = true; // the first non-hello frame of an unauthenticated session ends it
                    expected.put(rid, frame);
                    break;
                }
                expected.put(rid, frame);
                // whether the hello succeeds is decided asynchronously: wait for its answer before going on
                Frame answer = awaitAnswer(device, rid);
                if (answer == null) {
                    if (device.closed.isDone()) {
                        break;
                    }
                    fail("no answer within 5 s to " + frame);
                }
                checkNotInternal(frame, answer);
                expected.remove(rid);
                if (!answer.hasHelloOk()) {
                    assertTrue(awaitClose(device), "a refused hello left the connection open: " + answer);
                    break;
                }
                authenticated = true;
                continue;
            }
            if (answered(frame.getOpCase())) {
                expected.put(rid, frame);
            }
        }

        Map<Long, Frame> answers = new HashMap<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!answers.keySet().containsAll(expected.keySet()) && !device.closed.isDone()
                && System.nanoTime() < deadline) {
            Frame f = device.frames.poll(20, TimeUnit.MILLISECONDS);
            if (f != null && expected.containsKey(f.getRequestId())) {
                answers.putIfAbsent(f.getRequestId(), f);
            }
        }
        List<Frame> received = new ArrayList<>(device.frames);
        for (Frame f : received) { // answers that came with or after the close
            if (expected.containsKey(f.getRequestId())) {
                answers.putIfAbsent(f.getRequestId(), f);
            }
        }
        for (Map.Entry<Long, Frame> e : expected.entrySet()) {
            Frame answer = answers.get(e.getKey());
            if (answer == null) {
                assertTrue(device.closed.isDone(), "no answer within 5 s and no close after " + e.getValue());
            } else {
                checkNotInternal(e.getValue(), answer);
            }
        }
        if (mustClose) {
            assertTrue(device.closed.isDone() || awaitClose(device), "not closed after a frame before hello");
            Frame answer = answers.get(rid);
            assertTrue(answer != null && answer.hasError(), "no error before the close after " + expected.get(rid)
                    + "; received " + received);
            assertEquals(ErrorCode.ERROR_CODE_UNAUTHENTICATED, answer.getError().getCode(), answer.toString());
        }

        device.disconnect();
        for (String user : users) {
            assertEquals(0, n.engine.kick(user, null, "fuzz"), "a session of " + user + " outlived its connection");
        }
    }

    /** @return the frames of the input's records that parse; at most {@link #MAX_FRAMES} */
    static List<Frame> frames(byte[] input) {
        List<Frame> frames = new ArrayList<>();
        int i = 1;
        while (i + 2 <= input.length && frames.size() < MAX_FRAMES) {
            int length = ((input[i] & 0xff) << 8) | (input[i + 1] & 0xff);
            i += 2;
            int end = Math.min(input.length, i + length);
            try {
                frames.add(Frame.parseFrom(java.util.Arrays.copyOfRange(input, i, end)));
            } catch (InvalidProtocolBufferException e) {
                // the transport's decoder refuses these before the engine sees them
            }
            i = end;
        }
        return frames;
    }

    /** @return true if the engine answers {@code op} with a frame carrying its request id */
    private static boolean answered(Frame.OpCase op) {
        return switch (op) {
            case DELIVER_ACK, MARK_READ, TYPING -> false; // answered only when refused
            default -> true;
        };
    }

    private static void checkNotInternal(Frame request, Frame answer) {
        if (answer.hasError() && answer.getError().getCode() == ErrorCode.ERROR_CODE_INTERNAL) {
            fail("INTERNAL answer " + answer + " to " + request);
        }
    }

    private static Frame awaitAnswer(TestNode.Device device, long rid) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline) {
            Frame f = device.frames.poll(20, TimeUnit.MILLISECONDS);
            if (f != null && f.getRequestId() == rid) {
                return f;
            }
            if (f == null && device.closed.isDone()) {
                return null;
            }
        }
        return null;
    }

    private static boolean awaitClose(TestNode.Device device) {
        try {
            device.closed.get(5, TimeUnit.SECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    private static TestNode node() {
        if (node == null || ++inputs % INPUTS_PER_ENGINE == 0) {
            if (node != null) {
                node.close();
            }
            node = new TestNode(new TinyStore(), CONFIG);
        }
        return node;
    }
}
