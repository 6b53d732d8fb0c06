package io.parley.client.internal;

import io.parley.core.proto.ConversationState;
import io.parley.core.proto.Message;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Turns the server's at-least-once, possibly out-of-order deliveries into an exactly-once, gapless, seq-ordered
 * stream per conversation. Pure logic with no I/O: the caller performs the range requests this class asks for.
 *
 * <p>Per conversation it keeps {@code lastSeq}, the highest seq handed to the application. For an offered
 * message: {@code seq <= lastSeq} is a duplicate and dropped; {@code seq == lastSeq + 1} is delivered together
 * with any buffered successors; a higher seq is buffered and the conversation gets a gap to fill.
 *
 * <p>Each connection is a session: {@link #beginSession()} holds every delivery until the resume list arrives
 * ({@link #onResumeList}), which raises {@code lastSeq} to the device's watermark; gaps are only reported after
 * {@link #enableGapRequests()} (the resume stream is still filling them before that). {@code lastSeq} survives
 * sessions, so a re-streamed message is never handed out twice.
 *
 * <p>Not thread-safe: confine an instance to one thread (the client's event loop).
 */
public final class DeliveryOrdering {
    /** A range of seqs to fetch with a Range sync; {@code toSeq == 0} means up to the head. */
    public record Gap(String conversation, long fromSeq, long toSeq, int limit) {
    }

    private record Held(Message message, boolean start) {
    }

    private static final class Conv {
        long lastSeq;
        final TreeMap<Long, Message> buffered = new TreeMap<>();
        boolean gapInFlight;
        /** Messages above the buffer cap were dropped: the next gap request reads up to the head. */
        boolean truncated;
    }

    private final int maxBufferedPerConversation;
    private final int maxRangeLimit;
    private final Map<String, Conv> conversations = new HashMap<>();
    private final List<Held> heldBeforeResume = new ArrayList<>();
    private final Set<String> gapCandidates = new LinkedHashSet<>();
    private boolean resumeKnown;
    private boolean gapsEnabled;

    public DeliveryOrdering(int maxBufferedPerConversation, int maxRangeLimit) {
        if (maxBufferedPerConversation < 1 || maxRangeLimit < 1) {
            throw new IllegalArgumentException("limits must be positive");
        }
        this.maxBufferedPerConversation = maxBufferedPerConversation;
        this.maxRangeLimit = maxRangeLimit;
    }

    /** A new connection: hold deliveries until its resume list arrives; forget range requests of the old one. */
    public void beginSession() {
        resumeKnown = false;
        gapsEnabled = false;
        heldBeforeResume.clear();
        for (Map.Entry<String, Conv> e : conversations.entrySet()) {
            e.getValue().gapInFlight = false;
            if (!e.getValue().buffered.isEmpty() || e.getValue().truncated) {
                gapCandidates.add(e.getKey());
            }
        }
    }

    /**
     * Applies the resume list: {@code lastSeq = max(lastSeq, watermark)} for each listed conversation, then
     * releases the deliveries held since {@link #beginSession()}.
     *
     * @param deliver receives the messages now deliverable, in order
     * @return conversations whose in-memory {@code lastSeq} is ahead of the server's watermark (their ack must be
     *     sent again), with that {@code lastSeq}
     */
    public Map<String, Long> onResumeList(List<ConversationState> states, Consumer<Message> deliver) {
        Map<String, Long> ackAgain = new HashMap<>();
        for (ConversationState s : states) {
            Conv c = conversations.computeIfAbsent(s.getConversation(), k -> new Conv());
            if (s.getWatermark() > c.lastSeq) {
                c.lastSeq = s.getWatermark();
                c.buffered.headMap(c.lastSeq, true).clear();
                drain(c, deliver);
            } else if (c.lastSeq > s.getWatermark()) {
                ackAgain.put(s.getConversation(), c.lastSeq);
            }
        }
        resumeKnown = true;
        List<Held> held = new ArrayList<>(heldBeforeResume);
        heldBeforeResume.clear();
        for (Held h : held) {
            offer(h.message(), h.start(), deliver);
        }
        return ackAgain;
    }

    /** The resume stream is complete: from now on buffered messages produce {@link #takeGaps() gaps}. */
    public void enableGapRequests() {
        gapsEnabled = true;
    }

    /**
     * Offers one delivered message.
     *
     * @param deliver receives the messages that became deliverable, in seq order (possibly none)
     * @return true if it was new (delivered or buffered), false if it was a duplicate or dropped
     */
    public boolean offer(Message m, Consumer<Message> deliver) {
        return offer(m, false, deliver);
    }

    /**
     * Offers one delivered message that may start this device's view of its conversation.
     *
     * @param start true if nothing before {@code m} is to be delivered or fetched (the event that made the user a
     *     member of a group: earlier seqs are not readable to it): the position moves to {@code m.seq - 1} if it is
     *     lower, dropping buffered messages below {@code m}
     * @param deliver receives the messages that became deliverable, in seq order (possibly none)
     * @return true if it was new (delivered or buffered), false if it was a duplicate or dropped
     */
    public boolean offer(Message m, boolean start, Consumer<Message> deliver) {
        if (!resumeKnown) {
            heldBeforeResume.add(new Held(m, start));
            return true;
        }
        Conv c = conversations.computeIfAbsent(m.getConversation(), k -> new Conv());
        long seq = m.getSeq();
        if (start && seq - 1 > c.lastSeq) {
            c.lastSeq = seq - 1;
            c.buffered.headMap(c.lastSeq, true).clear();
        }
        if (seq <= c.lastSeq) {
            return false;
        }
        if (seq == c.lastSeq + 1) {
            c.lastSeq = seq;
            deliver.accept(m);
            drain(c, deliver);
            return true;
        }
        if (c.buffered.containsKey(seq)) {
            return false;
        }
        if (c.buffered.size() >= maxBufferedPerConversation) {
            c.truncated = true;
            if (seq > c.buffered.lastKey()) {
                gapCandidates.add(m.getConversation());
                return false;
            }
            c.buffered.pollLastEntry();
        }
        c.buffered.put(seq, m);
        gapCandidates.add(m.getConversation());
        return true;
    }

    /**
     * Gaps to fetch now, each marked in flight until {@link #rangeFinished}. Empty before
     * {@link #enableGapRequests()}, and for conversations that already have a range request in flight.
     */
    public List<Gap> takeGaps() {
        if (!gapsEnabled || gapCandidates.isEmpty()) {
            return List.of();
        }
        List<Gap> gaps = new ArrayList<>();
        for (Iterator<String> it = gapCandidates.iterator(); it.hasNext(); ) {
            String id = it.next();
            Conv c = conversations.get(id);
            if (c == null || c.gapInFlight) {
                continue;
            }
            it.remove();
            Gap gap = gapOf(id, c);
            if (gap != null) {
                c.gapInFlight = true;
                gaps.add(gap);
            }
        }
        return gaps;
    }

    private Gap gapOf(String id, Conv c) {
        long from = c.lastSeq + 1;
        if (c.truncated) {
            return new Gap(id, from, 0, maxRangeLimit);
        }
        if (c.buffered.isEmpty()) {
            return null;
        }
        long to = c.buffered.firstKey() - 1;
        return new Gap(id, from, to, (int) Math.min(maxRangeLimit, to - from + 1));
    }

    /**
     * A range request ended. Offer its messages with {@link #offer} before calling this.
     *
     * @param gap the request, as returned by {@link #takeGaps()}
     * @param received how many messages the response carried (0 on failure)
     * @param hasMore the response's has_more
     * @param failed true if the request timed out or was refused: the gap is reported again by
     *     {@link #takeGaps()}
     * @param deliver receives messages made deliverable when the server had nothing in the gap (the seqs are
     *     then skipped rather than stalling the conversation forever)
     */
    public void rangeFinished(Gap gap, int received, boolean hasMore, boolean failed, Consumer<Message> deliver) {
        Conv c = conversations.get(gap.conversation());
        if (c == null) {
            return;
        }
        c.gapInFlight = false;
        if (!failed) {
            if (gap.toSeq() == 0) {
                if (!hasMore && received < gap.limit()) {
                    c.truncated = false;
                }
            } else if (received == 0 && !hasMore && c.lastSeq < gap.toSeq()) {
                c.lastSeq = gap.toSeq();
                c.buffered.headMap(c.lastSeq, true).clear();
                drain(c, deliver);
            }
        }
        if (!c.buffered.isEmpty() || c.truncated) {
            gapCandidates.add(gap.conversation());
        }
    }

    /** @return true if some conversation may have a gap to report through {@link #takeGaps()} */
    public boolean hasGapCandidates() {
        return !gapCandidates.isEmpty();
    }

    /** @return the highest seq handed out in {@code conversation}, 0 if none */
    public long lastSeq(String conversation) {
        Conv c = conversations.get(conversation);
        return c == null ? 0 : c.lastSeq;
    }

    /** @return how many messages wait in buffers (out of order or held before the resume list) */
    public int bufferedCount() {
        int n = heldBeforeResume.size();
        for (Conv c : conversations.values()) {
            n += c.buffered.size();
        }
        return n;
    }

    private void drain(Conv c, Consumer<Message> deliver) {
        Map.Entry<Long, Message> e;
        while ((e = c.buffered.firstEntry()) != null && e.getKey() <= c.lastSeq + 1) {
            c.buffered.pollFirstEntry();
            if (e.getKey() == c.lastSeq + 1) {
                c.lastSeq = e.getKey();
                deliver.accept(e.getValue());
            }
        }
    }
}
