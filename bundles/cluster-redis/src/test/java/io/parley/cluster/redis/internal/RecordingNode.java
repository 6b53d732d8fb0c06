package io.parley.cluster.redis.internal;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Message;
import io.parley.core.spi.cluster.LocalNode;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/** A {@link LocalNode} that records every call as a line, and deliveries also as (message, users). */
final class RecordingNode implements LocalNode {
    final String id;
    final BlockingQueue<String> calls = new LinkedBlockingQueue<>();
    final BlockingQueue<Delivered> delivered = new LinkedBlockingQueue<>();
    /** Runs before a delivery is recorded (tests make it block). */
    volatile Runnable beforeDeliver = () -> { };

    record Delivered(Message message, List<String> users) {
    }

    RecordingNode(String id) {
        this.id = id;
    }

    String next() throws InterruptedException {
        String call = calls.poll(10, TimeUnit.SECONDS);
        assertNotNull(call, "a call on node " + id + " within 10 s");
        return call;
    }

    Delivered nextDelivery() throws InterruptedException {
        Delivered d = delivered.poll(10, TimeUnit.SECONDS);
        assertNotNull(d, "a delivery on node " + id + " within 10 s");
        return d;
    }

    @Override
    public String nodeId() {
        return id;
    }

    @Override
    public void deliver(Message message, List<String> users) {
        beforeDeliver.run();
        // calls first: a test that took the delivery and then clears calls must find this call already there
        calls.add("deliver " + message.getClientMsgId() + " " + users);
        delivered.add(new Delivered(message, users));
    }

    @Override
    public void relay(Frame frame, List<String> users) {
        calls.add("relay " + frame.getOpCase() + " " + users);
    }

    @Override
    public void readMarked(String conversation, String user, long seq) {
        calls.add("readMarked " + conversation + " " + user + " " + seq);
    }

    @Override
    public void kick(String user, String device, long startedBefore) {
        calls.add("kick " + user + "/" + device + " " + startedBefore);
    }

    @Override
    public void groupChanged(String groupId) {
        calls.add("groupChanged " + groupId);
    }

    @Override
    public void closeSessions(String reason) {
        calls.add("closeSessions");
    }
}
