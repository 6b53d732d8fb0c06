package io.parley.store.rocksdb;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.parley.core.proto.Message;
import io.parley.core.spi.store.MessageStore.Appended;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Append throughput of the RocksDB store (not a test); the same workload as the mvstore's {@code AppendBench}, so
 * the two are comparable: each of K threads keeps up to W appends in flight (W clients waiting for their acks)
 * until N messages in total are acknowledged; every message has a client id and two members.
 * <pre>
 * mvn -q -pl plugins-storage/rocksdb test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp target/classes:target/test-classes:$(cat target/cp.txt) io.parley.store.rocksdb.AppendBench \
 *      [N=200000] [K=8] [W=64] [conversations=1000] [fsync=true] [bodyBytes=100] [dir=temp] [dedupeWindowHours=168]
 * </pre>
 */
public final class AppendBench {

    private AppendBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        int k = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int w = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int conversations = args.length > 3 ? Integer.parseInt(args[3]) : 1000;
        boolean fsync = args.length <= 4 || Boolean.parseBoolean(args[4]);
        int bodyBytes = args.length > 5 ? Integer.parseInt(args[5]) : 100;
        Path dir = args.length > 6 ? Path.of(args[6]) : Files.createTempDirectory("parley-bench");
        long dedupeWindowHours = args.length > 7 ? Long.parseLong(args[7])
                : RocksStoreOptions.defaults(dir).dedupeWindowHours();

        ByteString body = ByteString.copyFrom(new byte[bodyBytes]);
        RocksMessageStore store = RocksMessageStore.open(RocksStoreOptions.defaults(dir).withFsync(fsync)
                .withDedupeWindowHours(dedupeWindowHours));
        long firstBatch = store.batchesWritten();
        CountDownLatch done = new CountDownLatch(k);
        int perThread = n / k;
        long start = System.nanoTime();
        for (int t = 0; t < k; t++) {
            int thread = t;
            new Thread(() -> {
                ArrayDeque<CompletableFuture<Appended>> inFlight = new ArrayDeque<>();
                try {
                    for (int i = 0; i < perThread; i++) {
                        if (inFlight.size() == w) {
                            inFlight.poll().get(60, TimeUnit.SECONDS);
                        }
                        String sender = "u" + (thread * perThread + i) % 10_000;
                        Message draft = Message.newBuilder().setId(thread + "-" + i).setClientMsgId("c" + thread + "-" + i)
                                .setSender(sender).setSenderDevice("d").setConversation("g:" + (i * 31 + thread) % conversations)
                                .setServerTime(System.currentTimeMillis()).setType("text")
                                .setBody(Any.newBuilder().setTypeUrl("type.googleapis.com/bench").setValue(body)).build();
                        inFlight.add(store.append(draft, List.of(sender, "peer")).toCompletableFuture());
                    }
                    for (CompletableFuture<Appended> f : inFlight) {
                        f.get(60, TimeUnit.SECONDS);
                    }
                } catch (Exception e) {
                    e.printStackTrace();
                } finally {
                    done.countDown();
                }
            }, "bench-" + t).start();
        }
        done.await();
        double seconds = (System.nanoTime() - start) / 1e9;
        long batches = store.batchesWritten() - firstBatch;
        long total = (long) perThread * k;
        String storeCpu = storeCpuPerAppend(total);
        store.close();
        System.out.printf("%d appends, %d threads x %d in flight, %d conversations, %d-byte bodies, fsync=%s: "
                        + "%.2f s, %.0f msgs/s, %d batches (%.1f appends/batch), database %d MiB%n",
                total, k, w, conversations, bodyBytes, fsync, seconds, total / seconds, batches,
                (double) total / batches, size(dir) >> 20);
        System.out.println(storeCpu);
    }

    /**
     * CPU time of the store's threads (the writer, RocksDB's compaction and flush threads) per append, from
     * /proc/self/task (Linux; clock ticks of 10 ms), so that the generator threads' own work is not counted.
     */
    private static String storeCpuPerAppend(long appends) throws IOException {
        Path tasks = Path.of("/proc/self/task");
        if (!Files.isDirectory(tasks)) {
            return "store CPU: not on Linux";
        }
        java.util.Map<String, Long> ticks = new java.util.TreeMap<>();
        try (Stream<Path> list = Files.list(tasks)) {
            for (Path task : (Iterable<Path>) list::iterator) {
                String comm = Files.readString(task.resolve("comm")).strip();
                String stat = Files.readString(task.resolve("stat"));
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long used = Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime
                String group = comm.startsWith("parley-rocksdb") ? "writer"
                        : comm.startsWith("rocksdb:") ? comm : comm.startsWith("bench-") ? "generators" : "other";
                ticks.merge(group, used, Long::sum);
            }
        }
        long store = ticks.entrySet().stream().filter(e -> !e.getKey().equals("generators")
                && !e.getKey().equals("other")).mapToLong(java.util.Map.Entry::getValue).sum();
        return String.format("store CPU %.2f us/append (threads, ms: %s)", store * 10_000.0 / appends,
                ticks.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue() * 10)
                        .collect(java.util.stream.Collectors.joining(" ")));
    }

    private static long size(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
