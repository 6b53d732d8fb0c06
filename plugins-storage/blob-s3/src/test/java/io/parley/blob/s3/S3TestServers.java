package io.parley.blob.s3;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The S3-API servers the tests talk to over real HTTP on 127.0.0.1, each started once per test JVM (with
 * {@value #PRESTART}, both in parallel at the first use of either) as a child process on a free port in 20000–32000,
 * and stopped when the JVM exits. A server that cannot be started fails the
 * test that asked for it (never a skip).
 * <ul>
 *   <li>{@link #s3mock()}: Adobe S3Mock (the Spring Boot jar the build copies to {@code target/s3mock/s3mock.jar},
 *       system property {@code s3mock.jar}), run with this JVM's {@code java}. It enforces {@code If-None-Match: *}
 *       on PutObject, so the contract's "exactly one of concurrent puts wins" holds on it; it checks no signature.</li>
 *   <li>{@link #s3rver()}: the npm package s3rver (installed by the build's {@code npm ci} into
 *       {@code target/s3rver}, system property {@code s3rver.dir}), run with {@code node}. It checks SigV4
 *       signatures (credentials {@value #ACCESS_KEY}/{@value #SECRET_KEY}) and the expiry of pre-signed URLs; it
 *       ignores {@code If-None-Match}.</li>
 * </ul>
 * Both start with one bucket, {@value #BUCKET}.
 */
final class S3TestServers {

    static final String ACCESS_KEY = "S3RVER";
    static final String SECRET_KEY = "S3RVER";
    static final String BUCKET = "parley-test";

    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    /** A running server. */
    record Server(String name, String endpoint, Process process, Path log) {
        S3Settings settings(String prefix) {
            return S3Settings.of(endpoint, BUCKET, ACCESS_KEY, SECRET_KEY).withPrefix(prefix);
        }
    }

    /** System property: true to start both servers at the first use of either (the unit tests use both). */
    static final String PRESTART = "s3.servers.prestart";

    private static CompletableFuture<Server> s3mock;
    private static CompletableFuture<Server> s3rver;

    private S3TestServers() {
    }

    static Server s3mock() {
        return join(startS3Mock(Boolean.getBoolean(PRESTART)));
    }

    static Server s3rver() {
        return join(startS3rver(Boolean.getBoolean(PRESTART)));
    }

    private static synchronized CompletableFuture<Server> startS3Mock(boolean andTheOther) {
        if (s3mock == null) {
            s3mock = CompletableFuture.supplyAsync(S3TestServers::startS3Mock);
        }
        if (andTheOther) {
            startS3rver(false);
        }
        return s3mock;
    }

    private static synchronized CompletableFuture<Server> startS3rver(boolean andTheOther) {
        if (s3rver == null) {
            s3rver = CompletableFuture.supplyAsync(S3TestServers::startS3rver);
        }
        if (andTheOther) {
            startS3Mock(false);
        }
        return s3rver;
    }

    private static Server join(CompletableFuture<?> server) {
        try {
            return (Server) server.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    private static Server startS3Mock() {
        Path jar = requiredPath("s3mock.jar", "target/s3mock/s3mock.jar");
        return start("S3Mock", jar.getParent(), port -> {
            Path root = Files.createTempDirectory("s3mock-");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            return List.of(java, "-Xmx384m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                    "-jar", jar.toString(),
                    "--server.port=0",
                    "--server.address=127.0.0.1",
                    "--com.adobe.testing.s3mock.httpPort=" + port,
                    "--com.adobe.testing.s3mock.store.initialBuckets=" + BUCKET,
                    "--com.adobe.testing.s3mock.store.root=" + root,
                    "--com.adobe.testing.s3mock.store.retainFilesOnExit=false",
                    "--spring.main.banner-mode=off",
                    "--logging.level.root=WARN");
        });
    }

    private static Server startS3rver() {
        Path dir = requiredPath("s3rver.dir", "target/s3rver");
        Path script = dir.resolve("node_modules/s3rver/bin/s3rver.js");
        if (!Files.isRegularFile(script)) {
            throw new IllegalStateException("s3rver is not installed: " + script + " is missing (the build runs "
                    + "npm ci in " + dir + ")");
        }
        return start("s3rver", dir, port -> {
            Path data = Files.createTempDirectory("s3rver-");
            return List.of("node", script.toString(), "-d", data.toString(), "-a", "127.0.0.1",
                    "-p", Integer.toString(port), "--silent", "--configure-bucket", BUCKET);
        });
    }

    private interface Command {
        List<String> at(int port) throws IOException;
    }

    private static Path requiredPath(String property, String fallback) {
        Path path = Path.of(System.getProperty(property, fallback)).toAbsolutePath();
        if (!Files.exists(path)) {
            throw new IllegalStateException(path + " does not exist (system property " + property
                    + "; the module's build prepares it before the tests)");
        }
        return path;
    }

    private static Server start(String name, Path workDir, Command command) {
        List<String> failures = new ArrayList<>();
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            Path log = workDir.resolve(name.toLowerCase() + "-" + port + ".log");
            Process process = null;
            try {
                process = new ProcessBuilder(command.at(port)).directory(workDir.toFile())
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                Process started = process;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(started), name + "-stop"));
                String endpoint = "http://127.0.0.1:" + port;
                awaitHttp(name, endpoint, process, log);
                return new Server(name, endpoint, process, log);
            } catch (IOException | RuntimeException e) {
                failures.add(e.getMessage());
                if (process != null) {
                    stop(process);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(name + " start interrupted", e);
            }
        }
        throw new IllegalStateException(name + " could not be started: " + String.join(" | ", failures));
    }

    /** Waits until {@code endpoint} accepts TCP connections (a plain socket: no client threads are left behind). */
    private static void awaitHttp(String name, String endpoint, Process process, Path log)
            throws IOException, InterruptedException {
        URI uri = URI.create(endpoint);
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with " + process.exitValue() + ": " + tail(log));
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 1000);
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new IOException(name + " did not answer on " + endpoint + " within " + START_TIMEOUT + ": " + tail(log));
    }

    private static String tail(Path log) {
        try {
            String text = Files.readString(log, StandardCharsets.UTF_8);
            return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static int freePort() {
        for (int i = 0; i < 100; i++) {
            int port = ThreadLocalRandom.current().nextInt(20000, 32000);
            try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                socket.setReuseAddress(true);
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IllegalStateException("no free port in 20000-32000");
    }

    private static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
