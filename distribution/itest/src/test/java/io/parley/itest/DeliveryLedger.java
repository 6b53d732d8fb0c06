package io.parley.itest;

import io.parley.client.ConnectionListener;
import io.parley.client.DisconnectReason;
import io.parley.client.Groups;
import io.parley.client.MessageListener;
import io.parley.client.ParleyClient;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every device of the delivery suite sent and received, and the audit of the delivery contract over it. A
 * conversation's expected history is every acknowledged send plus, for a group, every {@value Groups#EVENT_TYPE}
 * message the suite caused ({@link #groupEvent}); every device of every member must end with exactly that history,
 * except that a device never receives its own sends (it holds their acks), while group events reach the acting
 * device too.
 *
 * <p>Recording happens on the clients' event loop threads (listeners, send completions) and is lock-free;
 * {@link #audit} may run at any time from any thread and reads a snapshot.
 */
final class DeliveryLedger {
    /** One delivery handed to a device's {@link MessageListener}. */
    record Received(String conversation, long seq, String messageId, String clientMsgId, String sender,
                    String senderDevice, String type, boolean recovered) {
    }

    /** An ack a device got for one of its sends (first sends, retransmissions, deliberate repeats alike). */
    record Acked(String clientMsgId, String conversation, long seq, String messageId, boolean duplicate) {
    }

    /**
     * One client of the suite: records its deliveries and connection history. {@code recovered} marks a delivery
     * of a message created before the device's current connection was established, on a device that had lost an
     * earlier one: it can only have come through a resume or a range sync after a disconnect, not live.
     */
    static final class Device implements MessageListener, ConnectionListener {
        final String user;
        final String id;
        final ConcurrentLinkedQueue<Received> received = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Acked> acks = new ConcurrentLinkedQueue<>();
        final AtomicInteger sessions = new AtomicInteger();
        final AtomicInteger disconnects = new AtomicInteger();
        private volatile long sessionStartMillis;
        volatile ParleyClient client;

        Device(String user, String id) {
            this.user = user;
            this.id = id;
        }

        @Override
        public void onMessage(Message m) {
            boolean recovered = sessions.get() > 1 && m.getServerTime() < sessionStartMillis;
            received.add(new Received(m.getConversation(), m.getSeq(), m.getId(), m.getClientMsgId(), m.getSender(),
                    m.getSenderDevice(), m.getType(), recovered));
        }

        /** @return true once this device's listener got a {@value Groups#EVENT_TYPE} message of {@code conversation} */
        boolean hasGroupEvent(String conversation) {
            for (Received r : received) {
                if (r.conversation().equals(conversation) && Groups.EVENT_TYPE.equals(r.type())) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void onConnected(HelloOk session) {
            sessionStartMillis = System.currentTimeMillis();
            sessions.incrementAndGet();
        }

        @Override
        public void onDisconnected(DisconnectReason reason, boolean willRetry) {
            disconnects.incrementAndGet();
        }

        @Override
        public String toString() {
            return id;
        }
    }

    /** The audit's result; {@code examples} holds the first few offenders of each check. */
    record Audit(long expectedDeliveries, long delivered, long lost, long lostMessages, long duplicated,
                 long reordered, long seqReuse, long idempotency, long diverged, long seqHoles, long recovered,
                 Map<String, List<String>> examples) {
        boolean clean() {
            return lost == 0 && duplicated == 0 && reordered == 0 && seqReuse == 0 && idempotency == 0
                    && diverged == 0 && seqHoles == 0;
        }
    }

    private static final int EXAMPLES = 5;

    /** client_msg_id → the first ack any device got for it: the acknowledged set. */
    private final Map<String, Acked> firstAck = new ConcurrentHashMap<>();
    /** "conversation#seq" → the message id the first ack named for it. */
    private final Map<String, String> seqOwner = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<String> seqReuse = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<String> idempotency = new ConcurrentLinkedQueue<>();
    private final AtomicLong ackCount = new AtomicLong();
    /** conversation → the seqs of the group events the suite caused in it (from the operations' responses). */
    private final Map<String, Set<Long>> groupEvents = new ConcurrentHashMap<>();

    /**
     * Records an ack {@code device} got for {@code clientMsgId}, checking it against every earlier ack of the same
     * key (same conversation, seq and message id) and of the same seq (same message id).
     *
     * @return the recorded ack
     */
    Acked acked(Device device, String clientMsgId, SendAck ack) {
        Acked a = new Acked(clientMsgId, ack.getConversation(), ack.getSeq(), ack.getMessageId(), ack.getDuplicate());
        device.acks.add(a);
        ackCount.incrementAndGet();
        Acked first = firstAck.putIfAbsent(clientMsgId, a);
        if (first != null && !(first.conversation().equals(a.conversation()) && first.seq() == a.seq()
                && first.messageId().equals(a.messageId()))) {
            idempotency.add(clientMsgId + ": first acked as " + first + ", now " + a + " on " + device);
        }
        String owner = seqOwner.putIfAbsent(a.conversation() + '#' + a.seq(), a.messageId());
        if (owner != null && !owner.equals(a.messageId())) {
            seqReuse.add(a.conversation() + " seq " + a.seq() + ": acked as " + owner + " and as " + a.messageId());
        }
        return a;
    }

    /** @return the first ack recorded for {@code clientMsgId}, or null */
    Acked firstAck(String clientMsgId) {
        return firstAck.get(clientMsgId);
    }

    int ackedCount() {
        return firstAck.size();
    }

    long ackCount() {
        return ackCount.get();
    }

    /**
     * Records that a group operation appended a {@value Groups#EVENT_TYPE} message at {@code seq} of
     * {@code conversation} (the response's {@code event_seq}): every member device must receive it, the acting one
     * included. Its message id is the one the devices received (the response does not carry it).
     */
    void groupEvent(String conversation, long seq) {
        groupEvents.computeIfAbsent(conversation, k -> ConcurrentHashMap.newKeySet()).add(seq);
    }

    /** Records a broken idempotency promise found outside {@link #acked} (e.g. a repeat not flagged duplicate). */
    void idempotencyViolation(String what) {
        idempotency.add(what);
    }

    /**
     * Checks every device of every member of every conversation against the acknowledged set.
     *
     * @param devicesByUser every device of every user
     */
    Audit audit(Collection<? extends SuiteConversation> conversations, Map<String, List<Device>> devicesByUser) {
        Map<String, List<String>> examples = new TreeMap<>();
        // the acknowledged history of each conversation: seq -> message id
        Map<String, TreeMap<Long, String>> history = new HashMap<>();
        for (Acked a : firstAck.values()) {
            history.computeIfAbsent(a.conversation(), k -> new TreeMap<>()).put(a.seq(), a.messageId());
        }
        long seqReuseCount = seqReuse.size();
        // group events: the message id is the first one any device received at that seq as a group event
        Map<String, String> eventIds = new HashMap<>();
        for (List<Device> ds : devicesByUser.values()) {
            for (Device d : ds) {
                for (Received r : d.received) {
                    Set<Long> seqs = groupEvents.get(r.conversation());
                    if (Groups.EVENT_TYPE.equals(r.type()) && seqs != null && seqs.contains(r.seq())) {
                        eventIds.putIfAbsent(r.conversation() + '#' + r.seq(), r.messageId());
                    }
                }
            }
        }
        for (Map.Entry<String, Set<Long>> e : groupEvents.entrySet()) {
            for (long seq : e.getValue()) {
                String id = eventIds.getOrDefault(e.getKey() + '#' + seq, "(group event never delivered)");
                String before = history.computeIfAbsent(e.getKey(), k -> new TreeMap<>()).putIfAbsent(seq, id);
                if (before != null) {
                    seqReuseCount++;
                    example(examples, "seq reuse", e.getKey() + " seq " + seq + ": a group event, acked as " + before);
                }
            }
        }
        long seqHoles = 0;
        for (Map.Entry<String, TreeMap<Long, String>> e : history.entrySet()) {
            long expectedSeq = 1;
            for (long seq : e.getValue().keySet()) {
                if (seq != expectedSeq) {
                    seqHoles += seq - expectedSeq;
                    example(examples, "seq holes", e.getKey() + ": no acked message at seq " + expectedSeq
                            + (seq - expectedSeq > 1 ? ".." + (seq - 1) : ""));
                }
                expectedSeq = seq + 1;
            }
        }
        seqReuse.stream().limit(EXAMPLES).forEach(s -> example(examples, "seq reuse", s));
        idempotency.stream().limit(EXAMPLES).forEach(s -> example(examples, "idempotency", s));

        long expected = 0;
        long delivered = 0;
        long lost = 0;
        long duplicated = 0;
        long reordered = 0;
        long diverged = 0;
        long recovered = 0;
        Set<String> lostIds = new HashSet<>();
        Map<Device, Map<String, List<Received>>> byDevice = new HashMap<>();
        for (List<Device> ds : devicesByUser.values()) {
            for (Device d : ds) {
                Map<String, List<Received>> perConv = new HashMap<>();
                for (Received r : d.received) {
                    perConv.computeIfAbsent(r.conversation(), k -> new ArrayList<>()).add(r);
                    delivered++;
                    if (r.recovered()) {
                        recovered++;
                    }
                }
                byDevice.put(d, perConv);
            }
        }
        for (SuiteConversation c : conversations) {
            TreeMap<Long, String> acked = history.getOrDefault(c.id(), new TreeMap<>());
            for (String member : c.members()) {
                for (Device d : devicesByUser.get(member)) {
                    List<Received> got = byDevice.get(d).getOrDefault(c.id(), List.of());
                    TreeMap<Long, String> own = new TreeMap<>();
                    for (Acked a : d.acks) {
                        if (a.conversation().equals(c.id())) {
                            own.put(a.seq(), a.messageId());
                        }
                    }
                    TreeMap<Long, String> view = new TreeMap<>(own);
                    Set<String> seen = new HashSet<>();
                    long prev = 0;
                    for (Received r : got) {
                        if (!seen.add(r.messageId())) {
                            duplicated++;
                            example(examples, "duplicated", d + " got " + r.messageId() + " (" + c.id() + " seq "
                                    + r.seq() + ") again");
                            continue;
                        }
                        String before = view.put(r.seq(), r.messageId());
                        if (before != null && !before.equals(r.messageId())) {
                            seqReuseCount++;
                            example(examples, "seq reuse", d + ": " + c.id() + " seq " + r.seq() + " delivered as "
                                    + r.messageId() + ", acked as " + before);
                        }
                        if (!inOrder(prev, r.seq(), own)) {
                            reordered++;
                            example(examples, "reordered", d + ": " + c.id() + " seq " + r.seq() + " after seq "
                                    + prev);
                        }
                        prev = Math.max(prev, r.seq());
                    }
                    for (Map.Entry<Long, String> e : acked.entrySet()) {
                        if (own.containsKey(e.getKey())) {
                            continue; // this device sent it: it has the ack, not a delivery
                        }
                        expected++;
                        if (!e.getValue().equals(view.get(e.getKey()))) {
                            lost++;
                            lostIds.add(e.getValue());
                            example(examples, "lost", d + ": " + c.id() + " seq " + e.getKey() + " (" + e.getValue()
                                    + ") never delivered; the listener's last seq is " + prev + ", the device's own"
                                    + " acked seqs " + own.keySet());
                        }
                    }
                    if (!view.equals(acked)) {
                        diverged++;
                        example(examples, "diverged", d + ": " + c.id() + " has " + view.size() + " messages (last seq "
                                + (view.isEmpty() ? 0 : view.lastKey()) + "), acked history " + acked.size());
                    }
                }
            }
        }
        return new Audit(expected, delivered, lost, lostIds.size(), duplicated, reordered, seqReuseCount,
                idempotency.size(), diverged, seqHoles, recovered, examples);
    }

    /** A delivery of {@code seq} after {@code prev} is in order if every seq in between is one of the device's own. */
    private static boolean inOrder(long prev, long seq, TreeMap<Long, String> own) {
        if (seq <= prev) {
            return false;
        }
        return own.subMap(prev, false, seq, false).size() == seq - prev - 1;
    }

    private static void example(Map<String, List<String>> examples, String check, String text) {
        List<String> l = examples.computeIfAbsent(check, k -> new ArrayList<>());
        if (l.size() < EXAMPLES) {
            l.add(text);
        }
    }

    static String pad(Object o, int width) {
        String s = Objects.toString(o);
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }
}
