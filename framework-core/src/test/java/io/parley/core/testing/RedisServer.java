package io.parley.core.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A redis-server process of the tests' own, on a free port in 20000-32000 and a directory of its own, never the
 * machine's Redis. Fails (does not skip) when redis-server is not installed. Also a minimal RESP client for
 * administrative commands.
 */
public final class RedisServer implements AutoCloseable {
    /** {@code appendonly yes}, {@code appendfsync always}: every acknowledged write survives {@code kill -9}. */
    public static final String[] AOF_ALWAYS = {"--appendonly", "yes", "--appendfsync", "always"};

    private final Path dir;
    private final List<String> extraArgs;
    private final int port;
    private Process process;

    private RedisServer(Path dir, int port, List<String> extraArgs) {
        this.dir = dir;
        this.port = port;
        this.extraArgs = extraArgs;
    }

    /** Starts a server in {@code dir} with {@code --save '' --appendonly no} unless {@code extraArgs} override them. */
    public static RedisServer start(Path dir, String... extraArgs) throws Exception {
        String binary = binary("redis-server");
        IOException last = null;
        for (int attempt = 0; attempt < 10; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(20000, 32000);
            if (!free(port) || !free(port + 10000)) {
                continue;
            }
            RedisServer server = new RedisServer(dir, port, List.of(extraArgs));
            try {
                server.launch(binary);
                return server;
            } catch (IOException e) {
                last = e;
                server.kill();
            }
        }
        throw new IllegalStateException("could not start redis-server", last);
    }

    public static String binary(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(d, name);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new AssertionError(name + " is not installed: tests that need Redis start their own redis-server "
                + "(apt-get install redis-server; .ci/run installs it)");
    }

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void launch(String binary) throws Exception {
        Files.createDirectories(dir);
        List<String> command = new ArrayList<>(List.of(binary, "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--dir", dir.toString(), "--daemonize", "no",
                "--logfile", dir.resolve("redis.log").toString(), "--save", "", "--appendonly", "no"));
        command.addAll(extraArgs);
        process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis.out").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("redis-server exited: " + Files.readString(dir.resolve("redis.out"))
                        + (Files.exists(dir.resolve("redis.log")) ? Files.readString(dir.resolve("redis.log")) : ""));
            }
            try {
                if ("PONG".equals(command("PING"))) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(20);
        }
        throw new IOException("redis-server on port " + port + " did not answer PING");
    }

    public int port() {
        return port;
    }

    public Path dir() {
        return dir;
    }

    public String uri() {
        return "redis://127.0.0.1:" + port + "/0";
    }

    /** Kills the process with SIGKILL (no shutdown save) and waits for it. */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Starts the same server again (same port, directory and arguments) after {@link #kill}. */
    public void restart() throws Exception {
        launch(binary("redis-server"));
    }

    @Override
    public void close() throws Exception {
        kill();
    }

    /** Sends one command and returns the reply: String (status), Long, byte[] (bulk), List, or null. */
    public Object call(Object... args) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            ByteArrayOutputStream request = new ByteArrayOutputStream();
            request.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            for (Object arg : args) {
                byte[] b = arg instanceof byte[] bytes ? bytes : String.valueOf(arg).getBytes(StandardCharsets.UTF_8);
                request.write(("$" + b.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
                request.write(b);
                request.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.write(request.toByteArray());
            out.flush();
            return read(new DataInputStream(new BufferedInputStream(socket.getInputStream())));
        }
    }

    /** {@link #call} with the reply as text. */
    public String command(Object... args) throws IOException {
        Object reply = call(args);
        return reply instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    private static Object read(DataInputStream in) throws IOException {
        int type = in.read();
        String line = line(in);
        switch (type) {
            case '+':
                return line;
            case '-':
                throw new IOException("redis error: " + line);
            case ':':
                return Long.parseLong(line);
            case '$': {
                int n = Integer.parseInt(line);
                if (n < 0) {
                    return null;
                }
                byte[] b = new byte[n];
                in.readFully(b);
                line(in);
                return b;
            }
            case '*': {
                int n = Integer.parseInt(line);
                if (n < 0) {
                    return null;
                }
                List<Object> list = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    list.add(read(in));
                }
                return list;
            }
            default:
                throw new IOException("bad reply type " + type);
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder s = new StringBuilder();
        int c;
        while ((c = in.read()) != '\r') {
            if (c < 0) {
                throw new IOException("connection closed");
            }
            s.append((char) c);
        }
        in.read();
        return s.toString();
    }

    /**
     * Three masters, no replicas, every slot assigned; started in sub-directories of {@code dir}, each with
     * {@code extraArgs} too.
     */
    public static List<RedisServer> startCluster(Path dir, String... extraArgs) throws Exception {
        List<RedisServer> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Path d = dir.resolve("node" + i);
                List<String> args = new ArrayList<>(List.of("--cluster-enabled", "yes", "--cluster-config-file",
                        d.resolve("nodes.conf").toString(), "--cluster-node-timeout", "5000"));
                args.addAll(List.of(extraArgs));
                nodes.add(start(d, args.toArray(String[]::new)));
            }
            List<String> create = new ArrayList<>(List.of(binary("redis-cli"), "--cluster", "create"));
            nodes.forEach(n -> create.add("127.0.0.1:" + n.port()));
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            Process p = new ProcessBuilder(create).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("cluster-create.out").toFile()).start();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("redis-cli --cluster create failed: "
                        + Files.readString(dir.resolve("cluster-create.out")));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Stream.of(nodes.toArray(RedisServer[]::new)).allMatch(RedisServer::clusterOk)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the cluster did not reach cluster_state:ok");
                }
                Thread.sleep(50);
            }
            return nodes;
        } catch (Exception | Error e) {
            for (RedisServer n : nodes) {
                n.kill();
            }
            throw e;
        }
    }

    /** @return the seed list of a Redis Cluster for a store's or a cluster link's {@code uri} */
    public static String seeds(List<RedisServer> nodes) {
        return String.join(",", nodes.stream().map(RedisServer::uri).toList());
    }

    private boolean clusterOk() {
        try {
            String info = command("CLUSTER", "INFO");
            return info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
                    && info.contains("cluster_known_nodes:3");
        } catch (IOException e) {
            return false;
        }
    }
}
