package io.parley.store.rocksdb;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.Message;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/**
 * Read latency of the RocksDB store after a restart (not a test): appends N messages (5 conversations, 8 senders),
 * reopens, and times on one thread {@code findByClientId} hits and misses (a miss is what every send costs: the
 * core looks its idempotency key up first), {@code range} pages of 50, {@code conversations} and {@code head}.
 * <pre>
 * mvn -q -pl plugins-storage/rocksdb test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp target/classes:target/test-classes:$(cat target/cp.txt) io.parley.store.rocksdb.LookupBench [N=1000000]
 * </pre>
 */
public final class LookupBench {

    private LookupBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        Path dir = Files.createTempDirectory("parley-lookup");
        ByteString body = ByteString.copyFrom(new byte[100]);
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir).withFsync(false))) {
            List<CompletableFuture<?>> pending = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Message draft = Message.newBuilder().setId("id" + i).setClientMsgId("c" + i).setSender("u" + i % 8)
                        .setSenderDevice("d").setConversation("g:" + i % 5).setServerTime(i).setType("text")
                        .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/bench").setValue(body)).build();
                pending.add(store.append(draft, List.of("u" + i % 8, "all")).toCompletableFuture());
                if (pending.size() == 1000) {
                    for (CompletableFuture<?> f : pending) {
                        f.get();
                    }
                    pending.clear();
                }
            }
            for (CompletableFuture<?> f : pending) {
                f.get();
            }
        }
        try (RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir))) {
            Random random = new Random(1);
            int k = 100_000;
            long t = System.nanoTime();
            for (int j = 0; j < k; j++) {
                int i = random.nextInt(n);
                store.findByClientId("u" + i % 8, "c" + i).orElseThrow();
            }
            double hit = micros(t, k);
            t = System.nanoTime();
            for (int j = 0; j < k; j++) {
                if (store.findByClientId("u" + j % 8, "miss" + j).isPresent()) {
                    throw new AssertionError();
                }
            }
            double miss = micros(t, k);
            t = System.nanoTime();
            for (int j = 0; j < 2000; j++) {
                store.range("g:" + j % 5, 1 + random.nextInt(Math.max(1, n / 5 - 100)), Long.MAX_VALUE, 50);
            }
            double range = micros(t, 2000);
            t = System.nanoTime();
            for (int j = 0; j < 20_000; j++) {
                store.conversations("u" + j % 8);
            }
            double conversations = micros(t, 20_000);
            t = System.nanoTime();
            for (int j = 0; j < 20_000; j++) {
                store.head("g:" + j % 5);
            }
            double head = micros(t, 20_000);
            System.out.printf("%d messages: findByClientId hit %.1f us, miss %.1f us; range(50) %.1f us; "
                    + "conversations %.1f us; head %.1f us%n", n, hit, miss, range, conversations, head);
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static double micros(long startNanos, int count) {
        return (System.nanoTime() - startNanos) / 1e3 / count;
    }
}
