package io.parley.core.spi.testing;

import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.store.MessageStore.Appended;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backlog of expired idempotency keys, for the tests of stores that prune them in bounded passes: {@code n}
 * messages with client ids {@code k0..k(n-1)} from 13 senders in 9 conversations ({@code g:0..g:8}).
 */
public final class PruningBacklog {

    /** Makes a draft message; the store's own test helper. */
    public interface Drafts {
        Message draft(String sender, String clientMsgId, String conversation);
    }

    private final MessageStore store;
    private final int n;

    private PruningBacklog(MessageStore store, int n) {
        this.store = store;
        this.n = n;
    }

    /** Appends the {@code n} messages and waits for every ack. */
    public static PruningBacklog append(MessageStore store, int n, Drafts drafts) throws Exception {
        List<CompletableFuture<Appended>> pending = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            pending.add(store.append(drafts.draft(sender(i), "k" + i, "g:" + i % 9), List.of(sender(i)))
                    .toCompletableFuture());
        }
        CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        return new PruningBacklog(store, n);
    }

    /** Asserts that some of the keys are still there (after one pass of at most {@code perPass} keys). */
    public void assertSomeLeft(int perPass) {
        long left = sample().stream().filter(i -> store.findByClientId(sender(i), "k" + i).isPresent()).count();
        assertTrue(left > 0, "one pass prunes at most " + perPass + " keys, not all " + n);
    }

    /**
     * Waits until every sampled key (every 97th and the last) is pruned, and asserts that every message is still
     * there.
     */
    public void awaitPruned(long timeoutSeconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        for (int i : sample()) {
            while (store.findByClientId(sender(i), "k" + i).isPresent()) {
                assertTrue(System.nanoTime() < deadline, "k" + i + " still there after " + timeoutSeconds + " s");
                Thread.sleep(50);
            }
        }
        int inG0 = n / 9 + (n % 9 > 0 ? 1 : 0);
        assertEquals(inG0, store.range("g:0", 1, inG0, n).size(), "pruning forgets keys, never messages");
    }

    private List<Integer> sample() {
        List<Integer> sample = new ArrayList<>();
        for (int i = 0; i < n; i += 97) {
            sample.add(i);
        }
        sample.add(n - 1);
        return sample;
    }

    private static String sender(int i) {
        return "u" + i % 13;
    }
}
