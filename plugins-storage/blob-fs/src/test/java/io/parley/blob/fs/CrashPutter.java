package io.parley.blob.fs;

import io.parley.core.spi.blob.BlobStore.Info;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;

/**
 * The process {@link FsBlobStoreCrashTest} kills: {@code args[0]} is the store's directory, {@code args[1]} a run
 * name. Starts a put that never finishes (prints {@code STUCK} once its first half is written), then puts blobs of
 * random sizes from several threads, printing {@code OK <key> <sha256> <size>} after each put returns, until killed.
 */
public final class CrashPutter {

    public static void main(String[] args) throws Exception {
        FsBlobStore store = new FsBlobStore(Path.of(args[0]));
        String run = args[1];
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Thread stuck = new Thread(() -> {
            InputStream forever = new InputStream() {
                @Override
                public int read() throws IOException {
                    out.println("STUCK");
                    try {
                        Thread.sleep(Long.MAX_VALUE);
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                    return -1;
                }
            };
            try {
                store.put(run + "/stuck", new SequenceInputStream(new ByteArrayInputStream(new byte[100_000]), forever),
                        200_000, "image/png");
            } catch (IOException e) {
                e.printStackTrace();
            }
        });
        stuck.setDaemon(true);
        stuck.start();
        for (int t = 0; t < 4; t++) {
            int thread = t;
            new Thread(() -> {
                Random random = new Random(thread);
                try {
                    for (int i = 0; ; i++) {
                        byte[] bytes = new byte[random.nextInt(300_000)];
                        random.nextBytes(bytes);
                        String key = run + "/t" + thread + "/" + i;
                        Info info = store.put(key, new ByteArrayInputStream(bytes), bytes.length,
                                "application/octet-stream");
                        synchronized (out) {
                            out.println("OK " + key + " " + info.sha256() + " " + info.size());
                        }
                    }
                } catch (IOException e) {
                    e.printStackTrace();
                    System.exit(1);
                }
            }).start();
        }
    }
}
