package io.parley.core.internal;

import io.parley.core.proto.ReadCount;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReadCursorIndexTest {
    private final ReadCursorIndex index = new ReadCursorIndex();

    private static ReadCount step(long seq, int readers) {
        return ReadCount.newBuilder().setSeq(seq).setReaders(readers).build();
    }

    @Test
    void cursorsOnlyMoveForward() {
        assertTrue(index.advance("a", 5));
        assertFalse(index.advance("a", 5));
        assertFalse(index.advance("a", 3));
        assertFalse(index.advance("b", 0), "seq 0 is not a cursor");
        assertEquals(5, index.cursor("a"));
        assertEquals(0, index.cursor("b"));
        assertTrue(index.advance("a", 9));
        assertEquals(9, index.cursor("a"));
        assertEquals(1, index.size());
        assertEquals(1, index.readersAt(9));
        assertEquals(0, index.readersAt(10));
        assertEquals(1, index.readersAt(5), "the old value is not counted a second time");
    }

    @Test
    void countsAreAStepFunctionInAscendingSeq() {
        index.advance("a", 4);
        index.advance("b", 3);
        index.advance("c", 3);
        index.advance("d", 1);
        assertEquals(List.of(step(1, 4), step(3, 3), step(4, 1)), index.counts(1, 4));
        assertEquals(List.of(step(3, 3), step(4, 1)), index.counts(2, 4), "cursors below from are left out");
        assertEquals(List.of(step(4, 1)), index.counts(4, 10), "no entry above the highest cursor: 0 readers there");
        assertEquals(List.of(), index.counts(5, 10));
        assertEquals(List.of(), index.counts(5, 4), "empty window");
        assertEquals(4, index.readersAt(1));
        assertEquals(3, index.readersAt(2));
        assertEquals(0, index.readersAt(5));
    }

    @Test
    void cursorsBeyondTheHeadCountAsTheHead() {
        index.advance("a", 1_000_000);
        index.advance("b", 12);
        index.advance("c", 10);
        index.advance("d", 8);
        assertEquals(List.of(step(8, 4), step(10, 3)), index.counts(8, 10),
                "a, b (beyond the head) and c (at it) form one step at the head");
        assertEquals(List.of(step(10, 3)), index.counts(9, 10));
    }

    @Test
    void removedUsersAreNoLongerCounted() {
        index.advance("a", 4);
        index.advance("b", 4);
        assertTrue(index.remove("a"));
        assertFalse(index.remove("a"));
        assertFalse(index.remove("nobody"));
        assertEquals(List.of(step(4, 1)), index.counts(1, 4));
        assertTrue(index.remove("b"));
        assertEquals(List.of(), index.counts(1, 4));
        assertEquals(0, index.size());
    }

    @Test
    void countsMatchABruteForceCountForRandomCursors() {
        Random random = new Random(42);
        Map<String, Long> model = new HashMap<>();
        for (int round = 0; round < 2_000; round++) {
            String user = "u" + random.nextInt(60);
            if (random.nextInt(10) == 0) {
                index.remove(user);
                model.remove(user);
            } else {
                long seq = 1 + random.nextInt(120);
                index.advance(user, seq);
                model.merge(user, seq, Math::max);
            }
            if (round % 50 == 0) {
                long head = 1 + random.nextInt(120);
                long from = Math.max(1, head - random.nextInt(40));
                assertEquals(bruteForce(model, from, head), index.counts(from, head), "round " + round);
            }
        }
    }

    /** The definition: for each seq in from..head, members whose cursor (clamped to head) is at or past it; keep the steps. */
    private static List<ReadCount> bruteForce(Map<String, Long> cursors, long from, long head) {
        List<ReadCount> steps = new ArrayList<>();
        for (long s = from; s <= head; s++) {
            long seq = s;
            int readers = (int) cursors.values().stream().filter(c -> Math.min(c, head) >= seq).count();
            int above = (int) cursors.values().stream().filter(c -> Math.min(c, head) >= seq + 1).count();
            boolean isStep = readers > 0 && (seq == head || readers != above);
            if (isStep) {
                steps.add(step(seq, readers));
            }
        }
        return steps;
    }
}
