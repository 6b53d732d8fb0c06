package io.parley.client.internal;

import io.parley.core.proto.ConversationState;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeliveryOrderingTest {
    private static final String A = "d:alice:bob";
    private static final String B = "d:alice:carol";

    private DeliveryOrdering ordering;
    private final List<String> out = new ArrayList<>();

    @BeforeEach
    void setUp() {
        ordering = new DeliveryOrdering(100, 50);
        ordering.beginSession();
    }

    private static Message msg(String conv, long seq) {
        return Message.newBuilder().setConversation(conv).setSeq(seq).setId(conv + "#" + seq).build();
    }

    private static ConversationState state(String conv, long watermark, long head) {
        return ConversationState.newBuilder().setConversation(conv).setWatermark(watermark).setHead(head).build();
    }

    private void offer(String conv, long... seqs) {
        for (long s : seqs) {
            ordering.offer(msg(conv, s), m -> out.add(m.getId()));
        }
    }

    private void resume(ConversationState... states) {
        ordering.onResumeList(List.of(states), m -> out.add(m.getId()));
    }

    private static List<String> ids(String conv, long... seqs) {
        List<String> l = new ArrayList<>();
        for (long s : seqs) {
            l.add(conv + "#" + s);
        }
        return l;
    }

    @Test
    void inOrderMessagesAreDeliveredAndDuplicatesDropped() {
        resume();
        offer(A, 1, 2, 2, 3, 1);
        assertEquals(ids(A, 1, 2, 3), out);
        assertEquals(3, ordering.lastSeq(A));
    }

    @Test
    void unlistedConversationStartsAtZero() {
        resume(state(B, 7, 7));
        offer(A, 2);
        assertTrue(out.isEmpty());
        offer(A, 1);
        assertEquals(ids(A, 1, 2), out);
    }

    @Test
    void watermarkFromResumeListDropsOlderSeqs() {
        resume(state(A, 3, 5));
        offer(A, 2, 3, 4, 5);
        assertEquals(ids(A, 4, 5), out);
    }

    @Test
    void deliveriesBeforeResumeListAreHeldThenOrdered() {
        offer(A, 6, 4, 5, 3);
        assertTrue(out.isEmpty());
        resume(state(A, 3, 6));
        assertEquals(ids(A, 4, 5, 6), out);
    }

    @Test
    void outOfOrderIsBufferedAndDrained() {
        resume();
        offer(A, 1, 4, 3);
        assertEquals(ids(A, 1), out);
        offer(A, 2);
        assertEquals(ids(A, 1, 2, 3, 4), out);
        assertEquals(0, ordering.bufferedCount());
    }

    @Test
    void gapsAreReportedOnlyAfterResumeDoneAndOncePerConversation() {
        resume();
        offer(A, 1, 5, 6);
        offer(B, 3);
        assertEquals(List.of(), ordering.takeGaps(), "no gaps while the resume stream may still fill them");
        ordering.enableGapRequests();
        List<DeliveryOrdering.Gap> gaps = ordering.takeGaps();
        assertEquals(List.of(new DeliveryOrdering.Gap(A, 2, 4, 3), new DeliveryOrdering.Gap(B, 1, 2, 2)), gaps);
        offer(A, 8);
        assertEquals(List.of(), ordering.takeGaps(), "a range is already in flight for A");

        offer(A, 2, 3, 4);
        ordering.rangeFinished(gaps.get(0), 3, false, false, m -> out.add(m.getId()));
        assertEquals(ids(A, 1, 2, 3, 4, 5, 6), out);
        assertEquals(List.of(new DeliveryOrdering.Gap(A, 7, 7, 1)), ordering.takeGaps());
    }

    @Test
    void failedRangeIsReportedAgain() {
        resume();
        ordering.enableGapRequests();
        offer(A, 3);
        DeliveryOrdering.Gap gap = ordering.takeGaps().get(0);
        ordering.rangeFinished(gap, 0, false, true, m -> out.add(m.getId()));
        assertEquals(List.of(gap), ordering.takeGaps());
    }

    @Test
    void emptyRangeSkipsALostGapInsteadOfStalling() {
        resume();
        ordering.enableGapRequests();
        offer(A, 3, 4);
        DeliveryOrdering.Gap gap = ordering.takeGaps().get(0);
        ordering.rangeFinished(gap, 0, false, false, m -> out.add(m.getId()));
        assertEquals(ids(A, 3, 4), out);
        assertEquals(4, ordering.lastSeq(A));
    }

    @Test
    void positionSurvivesSessionsAndAheadOfWatermarkIsReported() {
        resume(state(A, 0, 2));
        offer(A, 1, 2);
        ordering.beginSession();
        Map<String, Long> ackAgain = ordering.onResumeList(List.of(state(A, 1, 3)), m -> out.add(m.getId()));
        assertEquals(Map.of(A, 2L), ackAgain);
        offer(A, 2, 3);
        assertEquals(ids(A, 1, 2, 3), out);
    }

    @Test
    void newSessionForgetsInFlightRangesButKeepsBuffers() {
        resume();
        ordering.enableGapRequests();
        offer(A, 3);
        assertEquals(1, ordering.takeGaps().size());
        ordering.beginSession();
        resume();
        ordering.enableGapRequests();
        assertEquals(List.of(new DeliveryOrdering.Gap(A, 1, 2, 2)), ordering.takeGaps());
    }

    @Test
    void bufferOverflowSwitchesToReadingUpToTheHead() {
        ordering = new DeliveryOrdering(2, 50);
        ordering.beginSession();
        resume();
        ordering.enableGapRequests();
        offer(A, 10, 11, 12);
        assertEquals(2, ordering.bufferedCount());
        DeliveryOrdering.Gap gap = ordering.takeGaps().get(0);
        assertEquals(new DeliveryOrdering.Gap(A, 1, 0, 50), gap);
        for (long s = 1; s <= 12; s++) {
            offer(A, s);
        }
        ordering.rangeFinished(gap, 12, false, false, m -> out.add(m.getId()));
        assertEquals(12, ordering.lastSeq(A));
        assertEquals(12, out.size());
        assertFalse(ordering.hasGapCandidates() && !ordering.takeGaps().isEmpty());
    }

    @Test
    void aStartingMessageSkipsEverythingBeforeIt() {
        String g = "g:team";
        resume();
        offer(g, 9);                                         // buffered: a gap 1..8 would be fetched
        ordering.offer(msg(g, 5), true, m -> out.add(m.getId()));
        assertEquals(ids(g, 5), out);
        assertEquals(5, ordering.lastSeq(g));
        ordering.enableGapRequests();
        assertEquals(List.of(new DeliveryOrdering.Gap(g, 6, 8, 3)), ordering.takeGaps());

        ordering.offer(msg(g, 2), true, m -> out.add(m.getId()));   // an old start never moves back
        assertEquals(5, ordering.lastSeq(g));
        assertEquals(ids(g, 5), out);
    }

    @Test
    void aStartingMessageHeldBeforeTheResumeListKeepsItsMeaning() {
        String g = "g:team";
        ordering.offer(msg(g, 4), true, m -> out.add(m.getId()));
        assertTrue(out.isEmpty());
        resume(state(g, 0, 4));
        assertEquals(ids(g, 4), out);
    }
}
