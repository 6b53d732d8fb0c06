package io.parley.itest;

import io.parley.auth.jwt.JwtTokens;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A copy of the assembled distribution in a temporary directory, run as a separate process with {@code bin/parley run}
 * exactly as an operator would, on a free port and with a fast FileInstall poll.
 */
final class ServerProcess implements AutoCloseable {
    final Path home;
    final int port;
    /** The WebSocket transport's port (path {@code /parley}). */
    final int webSocketPort;
    /** The HTTP API's port (127.0.0.1), so that no test shares the default 7702 with a running server. */
    final int httpPort;
    /** The HTTP API's admin token. */
    static final String ADMIN_TOKEN = "distribution-test-admin-token-0123456789";
    /** The file tickets' secret (conf/parley.blob.cfg). */
    static final String BLOB_TICKET_SECRET = "distribution-test-blob-ticket-secret-0123456789";
    private Process process;
    private long listeningMillis;

    ServerProcess(Path workDir) throws IOException {
        Path dist = Path.of(System.getProperty("parley.dist.dir", "../server/target/parley-0.1.0-SNAPSHOT"));
        if (!Files.isRegularFile(dist.resolve("bin/parley"))) {
            throw new IllegalStateException("no assembled server at " + dist.toAbsolutePath() + ": build distribution/server first");
        }
        this.home = workDir.resolve("parley");
        copyTree(dist, home);
        home.resolve("bin/parley").toFile().setExecutable(true);
        this.port = freePort();
        setKey(home.resolve("conf/parley.transport.tcp.cfg"), "port", Integer.toString(port));
        setKey(home.resolve("conf/parley.transport.tcp.cfg"), "host", "127.0.0.1");
        this.webSocketPort = freePort();
        setKey(home.resolve("conf/parley.transport.websocket.cfg"), "port", Integer.toString(webSocketPort));
        setKey(home.resolve("conf/parley.transport.websocket.cfg"), "host", "127.0.0.1");
        this.httpPort = freePort();
        setKey(home.resolve("conf/parley.transport.http.cfg"), "port", Integer.toString(httpPort));
        setKey(home.resolve("conf/parley.transport.http.cfg"), "host", "127.0.0.1");
        setKey(home.resolve("conf/parley.transport.http.cfg"), "admin.token", ADMIN_TOKEN);
        setKey(home.resolve("conf/parley.auth.jwt.cfg"), "secret", "distribution-test-secret-0123456789-abcdefghij");
        setKey(home.resolve("conf/parley.blob.cfg"), "ticket.secret", BLOB_TICKET_SECRET);
        setKey(home.resolve("conf/parley.blob.cfg"), "public.url", "http://127.0.0.1:" + httpPort);
        setKey(home.resolve("conf/parley.properties"), "felix.fileinstall.poll", "250");
    }

    JwtTokens tokens() {
        return JwtTokens.fromConfig(home.resolve("conf/parley.auth.jwt.cfg"));
    }

    /** Selects the message store ({@code mvstore}, {@code memory}) in conf/parley.core.cfg; before {@link #start()}. */
    ServerProcess useStore(String storeName) throws IOException {
        setKey(home.resolve("conf/parley.core.cfg"), "store.target", "(parley.store.name=" + storeName + ")");
        return this;
    }

    /**
     * A client builder for {@code user} on {@code device}, connecting to {@code 127.0.0.1:port} (the server's own
     * port or a proxy in front of it) with a token valid for 30 minutes.
     */
    ParleyClient.Builder clientBuilder(String user, String device, int port) {
        return ParleyClient.builder().host("127.0.0.1").port(port).deviceId(device)
                .token(tokens().mint(user, null, Duration.ofMinutes(30)));
    }

    /** @return the server JVM's process id (bin/parley execs java); only after {@link #start()} */
    long pid() {
        return process.pid();
    }

    /** @return true while the server process runs */
    boolean isAlive() {
        return process != null && process.isAlive();
    }

    /**
     * Starts {@code bin/parley run} and waits until the TCP port accepts connections and then a {@code Hello}
     * succeeds ({@link #awaitHello}), each within 30 s.
     *
     * @return ms until ready for clients; {@link #listeningMillis()} tells the part until the port accepted
     */
    long start() throws Exception {
        long t0 = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/parley").toString(), "run")
                .directory(home.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(home.resolve("logs/test-console.log").toFile()));
        pb.environment().put("JAVA_OPTS", "-Xmx512m");
        process = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("server exited with " + process.exitValue() + "; " + logTails());
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            } catch (IOException notYet) {
                Thread.sleep(10);
                continue;
            }
            listeningMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            awaitHello(Duration.ofSeconds(30));
            return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        }
        throw new IllegalStateException("server did not listen on " + port + " within 30 s; " + logTails());
    }

    /** @return ms from the last {@link #start()} until the TCP port accepted connections */
    long listeningMillis() {
        return listeningMillis;
    }

    /**
     * Waits until the server answers a {@code Hello} with {@code HelloOk}: the TCP port opens before the
     * authenticator and the store are bound, and a hello in between is refused with the retryable UNAVAILABLE
     * (protocol §6) — which a client's first {@code connect()} does not retry.
     *
     * @return ms until a hello succeeded
     * @throws IllegalStateException if none did within {@code timeout}, or the process died
     */
    long awaitHello(Duration timeout) throws Exception {
        long t0 = System.nanoTime();
        long deadline = t0 + timeout.toNanos();
        String token = tokens().mint("readiness-probe", null, Duration.ofMinutes(5));
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            if (!isAlive()) {
                throw new IllegalStateException("server exited; " + logTails());
            }
            try (RawConnection c = new RawConnection("127.0.0.1", port)) {
                c.send(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                        .setToken(token).setDeviceId("probe")).build());
                Frame reply = c.read();
                if (reply.hasHelloOk()) {
                    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                }
                last = reply.toString().replace('\n', ' ');
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("no HelloOk within " + timeout + ", last answer: " + last);
    }

    /** SIGKILL: no shutdown hook, no flush. */
    void kill9() throws InterruptedException {
        ProcessHandle handle = process.toHandle();
        handle.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM and wait for the orderly stop. */
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                kill9();
            }
        }
    }

    /** Copy-then-rename into deploy/, as documented: FileInstall never sees a half-written jar. */
    void deploy(Path jar, String name) throws IOException {
        Path tmp = home.resolve("deploy/." + name + ".tmp");
        Files.copy(jar, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, home.resolve("deploy").resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    void undeploy(String name) throws IOException {
        Files.delete(home.resolve("deploy").resolve(name));
    }

    /**
     * The last lines of the server's log and console, for a failure message: the test's temporary directory, and the
     * logs with it, is deleted when the test ends.
     */
    String logTails() {
        StringBuilder out = new StringBuilder("logs in ").append(home.resolve("logs"));
        for (String name : new String[] {"parley.log", "test-console.log"}) {
            Path file = home.resolve("logs").resolve(name);
            try {
                List<String> lines = Files.exists(file) ? Files.readAllLines(file) : List.of();
                out.append("\n--- last lines of ").append(name).append(" ---\n")
                        .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())));
            } catch (IOException | UncheckedIOException e) {
                out.append("\n--- ").append(name).append(": ").append(e);
            }
        }
        return out.toString();
    }

    String log() {
        try {
            Path log = home.resolve("logs/parley.log");
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws Exception {
        stop();
    }

    static void setKey(Path cfg, String key, String value) throws IOException {
        List<String> lines = Files.exists(cfg) ? Files.readAllLines(cfg) : List.of();
        Pattern p = Pattern.compile("^\\s*" + Pattern.quote(key) + "\\s*[=:].*$");
        StringBuilder out = new StringBuilder();
        boolean found = false;
        for (String line : lines) {
            Matcher m = p.matcher(line);
            if (m.matches()) {
                out.append(key).append(" = ").append(value).append('\n');
                found = true;
            } else {
                out.append(line).append('\n');
            }
        }
        if (!found) {
            out.append(key).append(" = ").append(value).append('\n');
        }
        Files.writeString(cfg, out.toString());
    }

    /** Ports {@link #freePort} handed out in this JVM: it never hands out one twice (the probe socket is closed). */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * A port free on 127.0.0.1 right now, below the ephemeral range (so that no outgoing connection can be holding
     * it) and away from the machine's services (RabbitMQ's 25672 is the one inside the range).
     */
    static int freePort() throws IOException {
        java.util.Random random = new java.util.Random();
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 20_000 + random.nextInt(12_000);
            if (port == 25_672 || !HANDED_OUT.add(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free port in 20000-31999");
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    static Duration since(long nanoTime) {
        return Duration.ofNanos(System.nanoTime() - nanoTime);
    }
}
