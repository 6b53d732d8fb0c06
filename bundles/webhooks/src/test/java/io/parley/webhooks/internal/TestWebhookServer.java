package io.parley.webhooks.internal;

import com.sun.net.httpserver.HttpServer;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A real HTTP server on 127.0.0.1 (an ephemeral port) standing in for an integrator's webhook endpoint: it records
 * every request and answers what the test's function says, after an optional delay. Its threads are named
 * {@value #THREAD_PREFIX}*, so thread-leak checks can tell them from the component's.
 */
public final class TestWebhookServer implements AutoCloseable {

    public static final String THREAD_PREFIX = "test-webhook-server-";

    /** One request as received. {@code headers} keys are lower case. */
    public record Received(String method, String path, Map<String, String> headers, byte[] body, long nanoTime) {
        public String header(String name) {
            return headers.get(name.toLowerCase());
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** Checks X-Parley-Signature the way an integrator would, without this bundle's code. */
        public boolean signatureValid(String secret) {
            String timestamp = header("X-Parley-Timestamp");
            String signature = header("X-Parley-Signature");
            if (timestamp == null || signature == null || !signature.startsWith("sha256=")) {
                return false;
            }
            try {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
                mac.update(timestamp.getBytes(StandardCharsets.UTF_8));
                mac.update((byte) '.');
                byte[] expected = mac.doFinal(body);
                byte[] given = HexFormat.of().parseHex(signature.substring("sha256=".length()));
                return MessageDigest.isEqual(expected, given);
            } catch (Exception e) {
                return false;
            }
        }
    }

    /** What to answer; {@code delayMillis} is slept before answering. */
    public record Answer(int status, String body, long delayMillis) {
        public static Answer json(String body) {
            return new Answer(200, body, 0);
        }

        public static Answer status(int status) {
            return new Answer(status, "", 0);
        }
    }

    private static final AtomicInteger THREADS = new AtomicInteger();

    private final HttpServer server;
    private final ExecutorService executor;
    private final List<Received> received = new CopyOnWriteArrayList<>();

    public TestWebhookServer(Function<Received, Answer> answers) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        executor = Executors.newCachedThreadPool(task -> {
            Thread t = new Thread(task, THREAD_PREFIX + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readAllBytes();
            }
            Map<String, String> headers = new TreeMap<>();
            exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(), String.join(",", v)));
            Received request = new Received(exchange.getRequestMethod(), exchange.getRequestURI().getPath(), headers,
                    body, System.nanoTime());
            received.add(request);
            Answer answer = answers.apply(request);
            try {
                if (answer.delayMillis() > 0) {
                    Thread.sleep(answer.delayMillis());
                }
                byte[] bytes = answer.body().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(answer.status(), bytes.length == 0 ? -1 : bytes.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(bytes);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException clientGone) {
                // the client timed out or was stopped
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hook?token=not-for-logs");
    }

    public List<Received> received() {
        return received;
    }

    /** @return a URL where nothing listens (connection refused) */
    public static URI downUrl() throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        return URI.create("http://127.0.0.1:" + port + "/hook");
    }

    @Override
    public void close() throws InterruptedException {
        server.stop(0);
        executor.shutdownNow();
        executor.awaitTermination(5, TimeUnit.SECONDS);
    }
}
