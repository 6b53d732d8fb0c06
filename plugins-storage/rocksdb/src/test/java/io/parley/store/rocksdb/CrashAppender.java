package io.parley.store.rocksdb;

import io.parley.core.proto.Message;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Forked by {@link RocksStoreCrashTest}: appends from several threads until killed and prints one line per
 * acknowledged append, {@code ACK <conversation> <seq> <base64 of the stored message>}, only after its stage
 * completed. Every fourth append of a thread is a group event whose record is its id and which lists
 * {@code "j" + id}; every seventh append is followed by a read cursor and a watermark update. Arguments: store
 * directory, thread count, run id (keeps client ids unique across runs).
 */
public final class CrashAppender {

    private CrashAppender() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        String run = args[2];
        RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir));
        System.out.println("READY");
        for (int t = 0; t < threads; t++) {
            int thread = t;
            Thread appender = new Thread(() -> {
                for (long i = 0; ; i++) {
                    String conversation = "g:crash" + (i + thread) % 5;
                    String key = run + "-" + thread + "-" + i;
                    Message draft = Drafts.draft("u" + thread, key, conversation).toBuilder().setId(key).build();
                    boolean event = i % 4 == 0;
                    try {
                        Message stored = (event
                                ? store.appendGroupEvent(draft.toBuilder().setType("group.event").build(),
                                        conversation.substring(2), key.getBytes(StandardCharsets.UTF_8),
                                        List.of("j" + key), List.of())
                                : store.append(draft, List.of("u" + thread, "all")))
                                .toCompletableFuture().get(30, TimeUnit.SECONDS).message();
                        if (i % 7 == 0) {
                            store.advanceReadCursor("u" + thread, conversation, stored.getSeq());
                            store.advanceWatermark("u" + thread, "phone", conversation, stored.getSeq());
                        }
                        String line = "ACK " + stored.getConversation() + " " + stored.getSeq() + " "
                                + Base64.getEncoder().encodeToString(stored.toByteArray());
                        synchronized (System.out) {
                            System.out.println(line);
                        }
                    } catch (Exception e) {
                        e.printStackTrace();
                        return;
                    }
                }
            }, "appender-" + t);
            appender.start();
        }
        Thread.sleep(Long.MAX_VALUE);
    }
}
