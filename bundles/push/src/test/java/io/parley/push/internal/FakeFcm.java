package io.parley.push.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real HTTP server on 127.0.0.1 standing in for FCM: records every request and answers with whatever
 * {@link #answer} says (default 200 with a message name). Not a mock of our client: it speaks plain HTTP.
 */
final class FakeFcm implements AutoCloseable {

    /** One request as the server saw it. */
    record Request(String method, String path, String authorization, String contentType, JsonNode json) {
    }

    /** How to answer a request. */
    @FunctionalInterface
    interface Answer {
        void answer(HttpExchange exchange, Request request) throws IOException;
    }

    static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    final BlockingQueue<Request> requests = new LinkedBlockingQueue<>();
    volatile Answer answer = (exchange, request) -> respond(exchange, 200, "{\"name\":\"projects/demo/messages/1\"}");

    FakeFcm() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            try {
                byte[] body = exchange.getRequestBody().readAllBytes();
                JsonNode json = body.length == 0 ? null : JSON.readTree(body);
                Request request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
                        exchange.getRequestHeaders().getFirst("Authorization"),
                        exchange.getRequestHeaders().getFirst("Content-Type"), json);
                requests.add(request);
                answer.answer(exchange, request);
            } catch (IOException | RuntimeException e) {
                // the client went away (a time-out): nothing to answer
            } finally {
                exchange.close();
            }
        });
        server.start();
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    static void respond(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            exchange.getResponseBody().write(bytes);
        }
    }

    /** A Google API error body, as FCM sends it. */
    static String error(int code, String status, String fcmErrorCode) {
        return "{\"error\":{\"code\":" + code + ",\"message\":\"x\",\"status\":\"" + status + "\",\"details\":[{"
                + "\"@type\":\"type.googleapis.com/google.firebase.fcm.v1.FcmError\",\"errorCode\":\""
                + fcmErrorCode + "\"}]}}";
    }

    Request take() throws InterruptedException {
        Request request = requests.poll(10, TimeUnit.SECONDS);
        if (request == null) {
            throw new AssertionError("no request reached the fake FCM");
        }
        return request;
    }

    /** @return the requests that arrive within {@code wait} */
    List<Request> drain(Duration wait) throws InterruptedException {
        Thread.sleep(wait.toMillis());
        List<Request> all = new java.util.ArrayList<>();
        requests.drainTo(all);
        return all;
    }

    /** An http URL on a port nothing listens on: connections are refused. */
    static URI deadEndpoint() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            return URI.create("http://127.0.0.1:" + socket.getLocalPort());
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
