package io.parley.transport.http.internal;

import io.parley.transport.support.EpollMode;
import io.parley.transport.support.LingeringClose;
import io.parley.transport.support.ServerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The API's guard over raw sockets (so that paths, headers and timing are exactly what an attacker sends): every
 * operation of the shipped OpenAPI document is refused without and with a wrong credential, under every encoding of
 * its path; bodies are refused before they are read; slow and idle connections are bounded and cannot lock
 * authenticated callers out.
 */
class HttpApiGuardTest {

    private static final String ADMIN = HttpApiServerTest.ADMIN;
    private static final Pattern PARAM = Pattern.compile("\\{[^}]+}");

    private final List<HttpApiServer> servers = new ArrayList<>();
    private EngineCore core;
    private HttpApiServer server;

    @BeforeEach
    void start() throws IOException {
        core = new EngineCore(HttpApiServerTest.SECRET);
        server = start(settings(1024, 1024, Duration.ofSeconds(10), Duration.ofSeconds(30)));
    }

    @AfterEach
    void stop() throws InterruptedException {
        servers.forEach(HttpApiServer::stop);
        core.close();
    }

    private HttpApiServer start(HttpApiSettings settings) throws IOException {
        HttpApiServer s = new HttpApiServer(settings, TokenIssuer.create(HttpApiServerTest.SECRET, "parley",
                Duration.ofDays(1), Duration.ofDays(30)));
        s.start();
        s.bindReceiver(core);
        servers.add(s);
        return s;
    }

    private static HttpApiSettings settings(int maxConnections, int perAddress, Duration header, Duration body) {
        return new HttpApiSettings(ServerSettings.builder().host("127.0.0.1").port(0).ioThreads(1)
                .epoll(EpollMode.AUTO).maxConnections(maxConnections).build(), ADMIN, 64 * 1024, 8192,
                Duration.ofSeconds(5), null, header, body, perAddress);
    }

    // ------------------------------------------------------------------------------------------------ authorization

    /** Every documented operation: the template with its parameters filled, e.g. {@code POST /v1/groups/g1/leave}. */
    private static List<String[]> operations() throws IOException {
        List<String[]> out = new ArrayList<>();
        String yaml = new String(HttpApiServer.openApiDocument(), StandardCharsets.UTF_8);
        for (String op : RouterTest.openApiOperations(yaml)) {
            String[] parts = op.split(" ", 2);
            out.add(new String[] {parts[0], PARAM.matcher(parts[1]).replaceAll("x1")});
        }
        assertTrue(out.size() >= 16, "the OpenAPI document lists the operations: " + out.size());
        return out;
    }

    /** Spellings of one path that decode to it: each letter of the first two segments percent-encoded in turn. */
    private static List<String> encodings(String path) {
        List<String> out = new ArrayList<>(List.of(path, path + "/"));
        String[] segments = path.substring(1).split("/");
        for (int s = 0; s < Math.min(2, segments.length); s++) {
            for (int i = 0; i < segments[s].length(); i++) {
                for (boolean upper : new boolean[] {true, false}) {
                    String hex = String.format(upper ? "%%%02X" : "%%%02x", (int) segments[s].charAt(i));
                    String[] copy = segments.clone();
                    copy[s] = segments[s].substring(0, i) + hex + segments[s].substring(i + 1);
                    out.add("/" + String.join("/", copy));
                }
            }
        }
        return out;
    }

    @Test
    void everyDocumentedOperationUnderEveryEncodingIsRefusedWithoutOrWithAWrongCredential() throws Exception {
        int checked = 0;
        for (String[] op : operations()) {
            String method = op[0];
            if (op[1].equals("/health") || op[1].startsWith("/health/")) {
                continue; // the open endpoints (/metrics is not: it takes metrics.token, else the admin token)
            }
            for (String path : encodings(op[1])) {
                String body = method.equals("POST") ? "{\"user\":\"bob\",\"to\":\"bob\",\"text\":\"x\"}" : null;
                for (String auth : new String[] {null, "Bearer wrong-" + ADMIN, "Bearer " + ADMIN + "x",
                        "Basic " + ADMIN, "bearer", ""}) {
                    for (String type : new String[] {"application/json", "text/plain"}) {
                        Reply r = exchange(server, request(method, path, auth, type, body));
                        assertEquals(401, r.status, method + " " + path + " auth=" + auth + " type=" + type
                                + "\n" + r.text);
                        assertTrue(r.text.contains("UNAUTHENTICATED"), r.text);
                        assertTrue(r.closed, "the connection closes after a refused request: " + method + " " + path);
                        checked++;
                    }
                }
            }
        }
        assertTrue(checked > 1000, "checked " + checked);
        assertEquals(0, core.opened.get(), "no refused call reached the core");
    }

    @Test
    void theAttackersRequestsAreRefusedAndTheRealTokenStillWorksThroughAnyEncoding() throws Exception {
        for (String path : List.of("/%761/tokens", "/v%31/tokens", "/%76%31/tokens")) {
            Reply anon = exchange(server, request("POST", path, null, "application/json", "{\"user\":\"bob\"}"));
            assertEquals(401, anon.status, anon.text);
            Reply plain = exchange(server, request("POST", path, null, "text/plain", "{\"user\":\"system\"}"));
            assertEquals(401, plain.status, plain.text);
            assertFalse(anon.text.contains("\"token\""), anon.text);
        }
        for (String path : List.of("/v%31/messages", "/%761/groups", "/%761/conversations/d:alice:bob/messages?user=bob",
                "/%761/users/bob/conversations")) {
            String method = path.contains("messages?") || path.contains("users") ? "GET" : "POST";
            Reply anon = exchange(server, request(method, path, null, "application/json",
                    method.equals("POST") ? "{\"from\":\"bob\",\"to\":\"alice\",\"text\":\"x\",\"owner\":\"bob\"}" : null));
            assertEquals(401, anon.status, path + "\n" + anon.text);
        }
        assertEquals(0, core.opened.get());
        // the encoded path is the same endpoint: with the admin token it works
        Reply minted = exchange(server, request("POST", "/%761/tokens", "Bearer " + ADMIN, "application/json",
                "{\"user\":\"bob\"}"));
        assertEquals(200, minted.status, minted.text);
        assertTrue(minted.text.contains("\"token\""), minted.text);
    }

    @Test
    void ambiguousPathsAreRefusedWith400WithOrWithoutTheToken() throws Exception {
        for (String path : List.of("/v1%2Ftokens", "/v1/%2E%2E/v1/tokens", "/%25761/tokens", "/v1/users/a%252Fb/conversations",
                "/v1%5Ctokens", "/v1/users/a%00b/conversations", "/v1//tokens", "/v1/./tokens")) {
            for (String auth : new String[] {null, "Bearer " + ADMIN}) {
                Reply r = exchange(server, request("POST", path, auth, "application/json", "{\"user\":\"bob\"}"));
                assertEquals(400, r.status, path + "\n" + r.text);
                assertTrue(r.text.contains("INVALID_REQUEST"), r.text);
            }
        }
        assertEquals(0, core.opened.get());
    }

    @Test
    void everyBodyMustBeJson() throws Exception {
        for (String[] op : operations()) {
            if (!op[0].equals("POST")) {
                continue;
            }
            for (String type : new String[] {null, "text/plain", "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x", "application/json; charset=iso-8859-1", "application/jsonp"}) {
                Reply r = exchange(server, request("POST", op[1], "Bearer " + ADMIN, type, "{\"user\":\"bob\"}"));
                assertEquals(415, r.status, op[1] + " " + type + "\n" + r.text);
                assertTrue(r.text.contains("UNSUPPORTED_MEDIA_TYPE"), r.text);
            }
            Reply ok = exchange(server, request("POST", op[1], "Bearer " + ADMIN, "Application/JSON; Charset=UTF-8",
                    "{}"));
            assertTrue(ok.status != 415 && ok.status != 401, op[1] + "\n" + ok.text);
        }
        // endpoints without a body refuse one
        Reply get = exchange(server, request("GET", "/v1/users/bob/conversations", "Bearer " + ADMIN,
                "application/json", "{}"));
        assertEquals(400, get.status, get.text);
        // and so do the open paths outside /v1
        Reply open = exchange(server, request("GET", "/health", null, "application/json", "{\"x\":1}"));
        assertEquals(400, open.status, open.text);
    }

    @Test
    void httpVersionsOtherThan1xAreRefused() throws Exception {
        Reply r = exchange(server, "GET /health HTTP/9.9\r\nHost: x\r\n\r\n");
        assertEquals(505, r.status, r.text);
    }

    /** RFC 9112 §3.2 (an outside prober's finding: a request without {@code Host} was answered). */
    @Test
    void aRequestWithoutExactlyOneWellFormedHostIsRefused() throws Exception {
        for (String host : new String[] {"", "Host: x\r\nHost: x\r\n", "Host: x\r\nHost: y\r\n", "Host: a b\r\n",
                "Host: user@x\r\n"}) {
            for (String target : new String[] {"/health", "/v1/users/bob/conversations"}) {
                Reply r = exchange(server, "GET " + target + " HTTP/1.1\r\n" + host
                        + "Authorization: Bearer " + ADMIN + "\r\n\r\n");
                assertEquals(400, r.status, host + target + "\n" + r.text);
                assertTrue(r.text.contains("INVALID_REQUEST") && r.text.contains("Host"), r.text);
                assertTrue(r.closed, "closed after the refusal");
            }
        }
        Reply twoOnHttp10 = exchange(server, "GET /health HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n");
        assertEquals(400, twoOnHttp10.status, twoOnHttp10.text);
        Reply noneOnHttp10 = exchange(server, "GET /health HTTP/1.0\r\n\r\n");
        assertEquals(200, noneOnHttp10.status, "HTTP/1.0 may omit Host\n" + noneOnHttp10.text);
        Reply withPort = exchange(server, "GET /health HTTP/1.1\r\nHost: [::1]:17702\r\nConnection: close\r\n\r\n");
        assertEquals(200, withPort.status, withPort.text);
    }

    // ------------------------------------------------------------------------------------------------ slowloris

    @Test
    void anUnauthenticatedBodyIsRefusedFromTheHeadBeforeItIsSent() throws Exception {
        try (Socket s = socket(server)) {
            // announce 1 MB and send none of it: the answer comes at once, and the connection closes
            s.getOutputStream().write(("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            Reply r = read(s);
            assertEquals(401, r.status, r.text);
            assertTrue(r.closed);
        }
        try (Socket s = socket(server)) {
            s.getOutputStream().write(("POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            Reply r = read(s);
            assertEquals(400, r.status, r.text);
        }
    }

    @Test
    void aClientStillSendingTheBodyOfARefusedRequestReadsItsAnswerAndALingererIsCut() throws Exception {
        // the answer comes while 4 MiB are on their way: the server discards them unread, and closes only once the
        // client is done — closing at once would reset the connection and drop the answer at the client
        byte[] body = new byte[4 << 20];
        String head = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n";
        for (int i = 0; i < 3; i++) {
            try (Socket s = socket(server)) {
                OutputStream out = s.getOutputStream();
                out.write(head.getBytes(StandardCharsets.US_ASCII));
                out.write(body); // a reset here is the defect
                Reply r = read(s);
                assertEquals(401, r.status, r.text);
                assertTrue(r.closed, r.text);
            }
        }
        // one that has its answer but goes on sending is cut after the linger
        try (Socket s = socket(server)) {
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            assertEquals(401, read(s).status);
            long start = System.nanoTime();
            byte[] chunk = new byte[16 << 10];
            try {
                while (System.nanoTime() - start < 10_000_000_000L) {
                    out.write(chunk);
                    Thread.sleep(5);
                }
                fail("the server still reads a refused request's body 10 s after answering it");
            } catch (SocketException cut) {
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertTrue(ms >= LingeringClose.DEFAULT_LINGER_MILLIS / 2 && ms < LingeringClose.DEFAULT_LINGER_MILLIS + 3000,
                        "cut after " + ms + " ms");
            }
        }
    }

    @Test
    void aRequestHeadOrBodyThatDoesNotArriveInTimeIsCut() throws Exception {
        HttpApiServer strict = start(settings(1024, 1024, Duration.ofMillis(300), Duration.ofMillis(300)));
        long started = System.nanoTime();
        try (Socket idle = socket(strict); Socket trickle = socket(strict); Socket body = socket(strict)) {
            trickle.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            body.getOutputStream().write(("POST /v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"us")
                    .getBytes(StandardCharsets.US_ASCII));
            Reply never = read(idle);
            assertEquals(408, never.status, never.text);
            assertTrue(never.closed);
            Reply slow = read(trickle);
            assertEquals(408, slow.status, slow.text);
            assertTrue(slow.closed);
            Reply cut = read(body);
            assertEquals(-1, cut.status, "the connection is closed without an answer: " + cut.text);
            assertTrue(cut.closed);
        }
        assertTrue(System.nanoTime() - started < Duration.ofSeconds(5).toNanos());
        // a keep-alive connection between requests is governed by the idle timeout, not by the head deadline
        try (Socket s = socket(strict)) {
            s.getOutputStream().write(request("GET", "/health", null, null, null).replace("Connection: close\r\n", "")
                    .getBytes(StandardCharsets.US_ASCII));
            assertEquals(200, readOne(s.getInputStream()).status);
            Thread.sleep(600);
            s.getOutputStream().write(request("GET", "/health", null, null, null).getBytes(StandardCharsets.US_ASCII));
            assertEquals(200, readOne(s.getInputStream()).status);
        }
    }

    @Test
    void unauthenticatedConnectionsThatHoldEverySlotCannotLockOutTheAdmin() throws Exception {
        HttpApiServer small = start(settings(20, 20, Duration.ofSeconds(30), Duration.ofSeconds(30)));
        List<Socket> loris = new ArrayList<>();
        try {
            for (int i = 0; i < 60; i++) { // three times the limit, each with an unfinished request
                Socket s = socket(small);
                s.getOutputStream().write("GET /v1/users/bob/conversations HTTP/1.1\r\nHost: x\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                loris.add(s);
            }
            for (int i = 0; i < 10; i++) {
                Reply r = exchange(small, request("GET", "/v1/users/bob/conversations", "Bearer " + ADMIN, null, null));
                assertEquals(200, r.status, "authenticated call " + i + " while slots are held\n" + r.text);
            }
            assertTrue(small.connectionCount() <= 20, "open " + small.connectionCount());
            int closed = 0;
            for (Socket s : loris) {
                s.setSoTimeout(300);
                if (read(s).closed) {
                    closed++;
                }
            }
            assertTrue(closed >= 40, "the oldest unauthenticated connections were closed to make room: " + closed);
        } finally {
            for (Socket s : loris) {
                s.close();
            }
        }
    }

    @Test
    void oneAddressCannotTakeMoreThanItsShareWhenTheOthersAreAuthenticated() throws Exception {
        HttpApiServer small = start(settings(100, 3, Duration.ofSeconds(30), Duration.ofSeconds(30)));
        List<Socket> proven = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Socket s = socket(small);
                s.getOutputStream().write(request("GET", "/health", "Bearer " + ADMIN, null, null)
                        .replace("GET /health", "GET /v1/users/bob/conversations").replace("Connection: close\r\n", "")
                        .getBytes(StandardCharsets.US_ASCII));
                assertEquals(200, readOne(s.getInputStream()).status);
                proven.add(s);
            }
            Reply refused = exchange(small, request("GET", "/health", null, null, null));
            assertEquals(503, refused.status, refused.text);
            assertTrue(refused.text.contains("max.connections.per.address"), refused.text);
        } finally {
            for (Socket s : proven) {
                s.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ raw HTTP

    private record Reply(int status, String text, boolean closed) {
    }

    private static String request(String method, String path, String authorization, String contentType, String body) {
        StringBuilder r = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: localhost\r\n");
        if (authorization != null) {
            r.append("Authorization: ").append(authorization).append("\r\n");
        }
        if (contentType != null) {
            r.append("Content-Type: ").append(contentType).append("\r\n");
        }
        byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        if (body != null) {
            r.append("Content-Length: ").append(bytes.length).append("\r\n");
        }
        r.append("Connection: close\r\n\r\n");
        if (body != null) {
            r.append(body);
        }
        return r.toString();
    }

    private static Socket socket(HttpApiServer target) throws IOException {
        Socket s = new Socket("127.0.0.1", target.localAddress().getPort());
        s.setSoTimeout(5000);
        return s;
    }

    private static Reply exchange(HttpApiServer target, String request) throws IOException {
        try (Socket s = socket(target)) {
            OutputStream out = s.getOutputStream();
            try {
                out.write(request.getBytes(StandardCharsets.UTF_8));
            } catch (SocketException e) {
                // refused from the head and closed while the body was still being written: read the answer
            }
            return read(s);
        }
    }

    /** Reads everything until the server closes the connection (or 5 s pass). */
    private static Reply read(Socket s) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        boolean closed = false;
        try {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) >= 0; ) {
                all.write(buf, 0, n);
            }
            closed = true;
        } catch (SocketException e) {
            closed = true; // reset by the server
        } catch (java.net.SocketTimeoutException e) {
            closed = false;
        }
        String text = all.toString(StandardCharsets.UTF_8);
        return new Reply(status(text), text, closed);
    }

    /** Reads one response with a Content-Length body, leaving the connection open. */
    private static Reply readOne(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int length = 0;
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                fail("closed before a complete response: " + head);
            }
            head.append((char) c);
        }
        Matcher m = Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        if (m.find()) {
            length = Integer.parseInt(m.group(1));
        }
        byte[] body = in.readNBytes(length);
        String text = head + new String(body, StandardCharsets.UTF_8);
        return new Reply(status(text), text, false);
    }

    private static int status(String text) {
        return text.startsWith("HTTP/1.") && text.length() >= 12
                ? Integer.parseInt(text.substring(9, 12)) : -1;
    }
}
