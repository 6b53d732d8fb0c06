package io.parley.itest;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A redis-server process of the distribution tests' own: a free port, a directory of its own, never the machine's
 * Redis; fails (does not skip) when redis-server is not installed. {@link #kill} and {@link #restart} keep the port,
 * directory and arguments, so a restart with AOF finds what was acknowledged before the kill. Also a minimal RESP
 * client for administrative commands.
 */
final class RedisProcess implements AutoCloseable {
    /** {@code appendonly yes}, {@code appendfsync always}: every acknowledged write survives {@code kill -9}. */
    static final List<String> AOF_ALWAYS = List.of("--appendonly", "yes", "--appendfsync", "always");

    private final Path dir;
    private final int port;
    private final List<String> extraArgs;
    private Process process;

    private RedisProcess(Path dir, int port, List<String> extraArgs) {
        this.dir = dir;
        this.port = port;
        this.extraArgs = List.copyOf(extraArgs);
    }

    /**
     * Starts a server in {@code dir} ({@code --save ''}, then {@code extraArgs}) on a port free below 32000 whose
     * cluster bus port (+10000) is free too.
     */
    static RedisProcess start(Path dir, List<String> extraArgs) throws Exception {
        IOException last = null;
        for (int attempt = 0; attempt < 10; attempt++) {
            int port = ServerProcess.freePort();
            if (!free(port + 10_000)) {
                continue;
            }
            RedisProcess redis = new RedisProcess(dir, port, extraArgs);
            try {
                redis.launch();
                return redis;
            } catch (IOException e) {
                last = e;
                redis.kill();
            }
        }
        throw new IllegalStateException("could not start redis-server", last);
    }

    /**
     * Three masters without replicas, every slot assigned, each in a sub-directory of {@code dir} with
     * {@code extraArgs}; returns once every node reports {@code cluster_state:ok}.
     */
    static List<RedisProcess> startCluster(Path dir, List<String> extraArgs) throws Exception {
        List<RedisProcess> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Path d = dir.resolve("node" + i);
                List<String> args = new ArrayList<>(List.of("--cluster-enabled", "yes", "--cluster-config-file",
                        d.resolve("nodes.conf").toString(), "--cluster-node-timeout", "5000"));
                args.addAll(extraArgs);
                nodes.add(start(d, args));
            }
            List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
            nodes.forEach(n -> create.add("127.0.0.1:" + n.port()));
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            Files.createDirectories(dir);
            Process p = new ProcessBuilder(create).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("cluster-create.out").toFile()).start();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException("redis-cli --cluster create failed: "
                        + Files.readString(dir.resolve("cluster-create.out")));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!nodes.stream().allMatch(RedisProcess::clusterOk)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the Redis Cluster did not reach cluster_state:ok");
                }
                Thread.sleep(50);
            }
            return nodes;
        } catch (Exception | Error e) {
            for (RedisProcess n : nodes) {
                n.kill();
            }
            throw e;
        }
    }

    /** @return the seed list of a Redis Cluster for the store's {@code uri} with {@code cluster = true} */
    static String seeds(List<RedisProcess> nodes) {
        return nodes.stream().map(RedisProcess::uri).collect(Collectors.joining(","));
    }

    int port() {
        return port;
    }

    String uri() {
        return "redis://127.0.0.1:" + port + "/0";
    }

    /** SIGKILL, no shutdown save; waits for the process to end. */
    void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Starts the server again after {@link #kill}: same port, directory and arguments. */
    void restart() throws Exception {
        launch();
    }

    @Override
    public void close() throws Exception {
        kill();
    }

    private static boolean free(int port) {
        try (java.net.ServerSocket s = new java.net.ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void launch() throws Exception {
        Files.createDirectories(dir);
        List<String> command = new ArrayList<>(List.of("redis-server", "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--dir", dir.toString(), "--daemonize", "no",
                "--logfile", dir.resolve("redis.log").toString(), "--save", ""));
        command.addAll(extraArgs);
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.out").toFile())).start();
        } catch (IOException e) {
            throw new AssertionError("redis-server is not installed: the distribution tests start their own "
                    + "(apt-get install redis-server; .ci/run installs it)", e);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
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
                // not listening yet, or still loading the AOF
            }
            Thread.sleep(20);
        }
        throw new IOException("redis-server on port " + port + " did not answer PING");
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

    /** Sends one command; the reply as text (a status, an integer, a bulk string, or a list's toString). */
    String command(Object... args) throws IOException {
        Object reply = call(args);
        return reply instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(reply);
    }

    private Object call(Object... args) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            ByteArrayOutputStream request = new ByteArrayOutputStream();
            request.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            for (Object arg : args) {
                byte[] b = String.valueOf(arg).getBytes(StandardCharsets.UTF_8);
                request.write(("$" + b.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
                request.write(b);
                request.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.write(request.toByteArray());
            out.flush();
            return read(new DataInputStream(new BufferedInputStream(socket.getInputStream())));
        }
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
}
