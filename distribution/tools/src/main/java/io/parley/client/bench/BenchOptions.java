package io.parley.client.bench;

import io.parley.client.ParleyClient;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * Parsed command line of {@link BenchMain}. Immutable.
 *
 * @param transport {@code tcp} or {@code ws} (WebSocket, {@code ws://host:port/path})
 * @param path the WebSocket request path (used with {@code ws} only)
 * @param io {@code auto} (native epoll where it loads, else NIO), {@code nio}, {@code epoll} or {@code io_uring}: the
 *     clients' socket layer ({@link BenchIo})
 * @param backlog catch-up: texts each sender sends to its offline partner per round
 * @param rounds catch-up: how many rounds of backlog and reconnect
 * @param timeline one-to-one and group-fanout: the length of each slice of the measured window reported on its own
 *     (deliveries, send → delivery p50/p99/max), {@link Duration#ZERO} for none
 * @param ports the server ports, one per node; client {@code i} connects to {@code ports[i % ports.length]}, so with
 *     two or more nodes the partners of a one-to-one pair ({@code i}, {@code i ^ 1}) are always on different nodes
 */
public record BenchOptions(
        String host,
        int[] ports,
        String scenario,
        String transport,
        String path,
        int clients,
        int senders,
        int rate,
        int window,
        Duration duration,
        Duration warmup,
        int messageBytes,
        Path secretFile,
        String secret,
        String issuer,
        String userPrefix,
        String deviceId,
        int threads,
        int connectConcurrency,
        Duration tokenTtl,
        String io,
        int backlog,
        int rounds,
        Duration timeline) {

    /** The most slices {@code --timeline} may cut the measured window into. */
    static final int MAX_TIMELINE_SLICES = 3600;

    static final String USAGE = """
            usage: bench --port PORT (--secret-file parley.auth.jwt.cfg | --secret SECRET) [options]
              --host HOST              server host (127.0.0.1)
              --port PORT[,PORT...]    server port (required): the TCP transport's, or with --transport ws
                                       the WebSocket transport's (7701 by default); several ports (the nodes
                                       of a cluster): client i connects to the (i mod count)-th, so one-to-one
                                       partners are always on different nodes
              --scenario NAME          one-to-one (default) | idle | group-fanout | catch-up
                                       idle: --clients connect, stay idle (heartbeats) for --duration
                                       group-fanout: --clients join one group, --senders of them send to it
                                       catch-up: in each of --rounds rounds, client 2k sends --backlog texts
                                       to client 2k+1 while it is offline, then every 2k+1 connects at once
                                       and resumes; measures how fast the backlogs arrive, checks each text
                                       arrives exactly once (exit 1 if not)
              --transport T            tcp (default) | ws: WebSocket, ws://HOST:PORT/PATH
              --path PATH              WebSocket request path (/parley)
              --clients N              number of clients (1000); one-to-one: even, client i talks to i^1
              --senders S              group-fanout: clients that send to the group (10, at most N)
              --rate R                 target total send rate in messages/s (0 = as fast as the window allows);
                                       group-fanout: messages sent to the group, each delivered to N-1 members
              --window W               max unacked sends per sending client (32)
              --duration D             measured time, e.g. 30s, 2m, 500ms (30s)
              --warmup D               unmeasured time before it (30s: a server pinned to one core spends
                                       its first ~25 s under load compiling, a third of its CPU in the JIT)
              --size BYTES             text body size in bytes (64)
              --secret-file PATH       the server's parley.auth.jwt.cfg (secret + issuer) to mint tokens
              --secret S               the JWT secret itself; with --issuer I (parley)
              --user-prefix P          user ids are P00000, P00001, ... (bench-)
              --device D               device id of every client (bench)
              --threads T              event loop threads (number of CPUs)
              --io IO                  the clients' sockets: auto (default: native epoll where it loads,
                                       else Java NIO) | nio | epoll | io_uring
              --connect-concurrency C  connection attempts in flight while connecting (100)
              --token-ttl D            lifetime of minted tokens (1h)
              --backlog B              catch-up: texts per sender per round (100)
              --rounds R               catch-up: rounds (3; the first also warms the server up)
              --timeline D             one-to-one, group-fanout: also report each D of the measured window
                                       on its own (deliveries, send -> delivery p50/p99/max), e.g. 1s; shows
                                       when a tail happens. Off by default; at most 3600 slices
            """;

    /** @throws IllegalArgumentException for an unknown option or a bad value */
    public static BenchOptions parse(String[] args) {
        String host = "127.0.0.1";
        int[] ports = null;
        String scenario = "one-to-one";
        String transport = "tcp";
        String path = ParleyClient.DEFAULT_WEBSOCKET_PATH;
        int clients = 1000;
        int senders = -1;
        int rate = 0;
        int window = 32;
        Duration duration = Duration.ofSeconds(30);
        Duration warmup = Duration.ofSeconds(30);
        int size = 64;
        Path secretFile = null;
        String secret = null;
        String issuer = null;
        String prefix = "bench-";
        String device = "bench";
        int threads = Runtime.getRuntime().availableProcessors();
        int connectConcurrency = 100;
        Duration ttl = Duration.ofHours(1);
        String io = BenchIo.AUTO;
        int backlog = 100;
        int rounds = 3;
        Duration timeline = Duration.ZERO;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("missing value for " + a);
            }
            String v = args[++i];
            switch (a) {
                case "--host" -> host = v;
                case "--port" -> ports = parsePorts(v);
                case "--scenario" -> scenario = v;
                case "--transport" -> transport = v.toLowerCase(Locale.ROOT);
                case "--path" -> path = v;
                case "--clients" -> clients = Integer.parseInt(v);
                case "--senders" -> senders = Integer.parseInt(v);
                case "--rate" -> rate = Integer.parseInt(v);
                case "--window" -> window = Integer.parseInt(v);
                case "--duration" -> duration = parseDuration(v);
                case "--warmup" -> warmup = parseDuration(v);
                case "--size" -> size = Integer.parseInt(v);
                case "--secret-file" -> secretFile = Path.of(v);
                case "--secret" -> secret = v;
                case "--issuer" -> issuer = v;
                case "--user-prefix" -> prefix = v;
                case "--device" -> device = v;
                case "--threads" -> threads = Integer.parseInt(v);
                case "--connect-concurrency" -> connectConcurrency = Integer.parseInt(v);
                case "--token-ttl" -> ttl = parseDuration(v);
                case "--io" -> io = BenchIo.check(v);
                case "--backlog" -> backlog = Integer.parseInt(v);
                case "--rounds" -> rounds = Integer.parseInt(v);
                case "--timeline" -> timeline = parseDuration(v);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (ports == null) {
            throw new IllegalArgumentException("--port is required");
        }
        if (!"tcp".equals(transport) && !"ws".equals(transport)) {
            throw new IllegalArgumentException("unsupported transport " + transport + " (tcp or ws)");
        }
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("--path must start with /: " + path);
        }
        if (senders == -1) {
            senders = Math.min(10, clients);
        }
        switch (scenario) {
            case "idle" -> {
                if (clients < 1) {
                    throw new IllegalArgumentException("--clients must be >= 1");
                }
            }
            case "group-fanout" -> {
                if (clients < 2 || senders < 1 || senders > clients) {
                    throw new IllegalArgumentException("group-fanout needs --clients >= 2 and 1 <= --senders <= "
                            + "--clients");
                }
            }
            default -> {
                if (clients < 2 || clients % 2 != 0) {
                    throw new IllegalArgumentException("--clients must be an even number >= 2");
                }
            }
        }
        if (backlog < 0 || rounds < 1) {
            throw new IllegalArgumentException("--backlog >= 0 and --rounds >= 1 required");
        }
        if (rate < 0 || window < 1 || size < 24 || threads < 1 || connectConcurrency < 1) {
            throw new IllegalArgumentException("--rate >= 0, --window >= 1, --size >= 24, --threads >= 1 required");
        }
        if (timeline.isNegative() || (!timeline.isZero()
                && (duration.toNanos() + timeline.toNanos() - 1) / timeline.toNanos() > MAX_TIMELINE_SLICES)) {
            throw new IllegalArgumentException("--timeline must be >= 0 and cut --duration into at most "
                    + MAX_TIMELINE_SLICES + " slices");
        }
        if ((secretFile == null) == (secret == null)) {
            throw new IllegalArgumentException("give exactly one of --secret-file and --secret");
        }
        BenchOptions options = new BenchOptions(host, ports, scenario, transport, path, clients, senders, rate, window,
                duration, warmup, size, secretFile, secret, issuer, prefix, device, threads, connectConcurrency, ttl, io,
                backlog, rounds, timeline);
        if ("ws".equals(transport)) {
            options.webSocketUri(0);   // host and path must form a URI
        }
        return options;
    }

    /** Points {@code builder}, the builder of client {@code i}, at that client's node over the chosen transport. */
    ParleyClient.Builder target(ParleyClient.Builder builder, int i) {
        return "ws".equals(transport) ? builder.webSocket(webSocketUri(i)) : builder.host(host).port(port(i));
    }

    /** @return the port client {@code i} connects to */
    int port(int i) {
        return ports[i % ports.length];
    }

    /** @return {@code ws://host:port/path} for client {@code i} */
    URI webSocketUri(int i) {
        try {
            return new URI("ws", null, host, port(i), path, null, null);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("invalid --host or --path: " + e.getMessage(), e);
        }
    }

    /** Parses {@code 7700} or {@code 7700,7710,7720}: ports in 1..65535. */
    static int[] parsePorts(String s) {
        String[] parts = s.split(",");
        int[] ports = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            ports[i] = Integer.parseInt(parts[i].trim());
            if (ports[i] < 1 || ports[i] > 65535) {
                throw new IllegalArgumentException("--port: not a port: " + parts[i]);
            }
        }
        return ports;
    }

    /** Parses {@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h}, or a plain number of seconds. */
    static Duration parseDuration(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.endsWith("ms")) {
            return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
        }
        if (v.endsWith("s")) {
            return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)));
        }
        if (v.endsWith("m")) {
            return Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
        }
        if (v.endsWith("h")) {
            return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
        }
        return Duration.ofSeconds(Long.parseLong(v));
    }
}
