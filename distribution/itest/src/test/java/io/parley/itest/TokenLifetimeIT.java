package io.parley.itest;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.parley.client.ConnectionListener;
import io.parley.client.DisconnectReason;
import io.parley.client.ParleyClient;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Ping;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A session lives no longer than its token, and tokens that are not valid yet or live too long are refused: on the
 * assembled server, over real sockets.
 */
class TokenLifetimeIT {
    @TempDir
    static Path work;
    static ServerProcess server;

    @BeforeAll
    static void start() throws Exception {
        server = new ServerProcess(work);
        // sessions end at exp plus the tolerated skew: keep it short so the test need not wait 30 s
        ServerProcess.setKey(server.home.resolve("conf/parley.auth.jwt.cfg"), "clock.skew.seconds", "1");
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private static Frame hello(String token, String device) {
        return Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1).setToken(token)
                .setDeviceId(device)).build();
    }

    @Test
    void aSessionIsClosedWithATokenExpiredNoticeWhenItsTokenExpires() throws Exception {
        String token = server.tokens().mint("expiring", null, Duration.ofSeconds(2));
        long started = System.nanoTime();
        try (RawConnection c = new RawConnection("127.0.0.1", server.port)) {
            c.send(hello(token, "d1"));
            assertTrue(c.read().hasHelloOk());
            // the session works until then
            c.send(Frame.newBuilder().setRequestId(2).setPing(Ping.newBuilder().setClientTime(1)).build());
            assertTrue(c.read().hasPong());
            Frame notice = c.read(); // within the socket's 10 s timeout
            assertTrue(notice.hasNotice(), notice.toString());
            assertEquals(Notice.Kind.KIND_TOKEN_EXPIRED, notice.getNotice().getKind());
            assertTrue(c.closedByServer(), "the connection closes after the notice");
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        assertTrue(seconds <= 5, "closed " + seconds + " s after a 2 s token (1 s skew) was minted");
        // and the same token cannot open a new session
        try (RawConnection c = new RawConnection("127.0.0.1", server.port)) {
            c.send(hello(token, "d1"));
            Frame refused = c.read();
            assertEquals(ErrorCode.ERROR_CODE_TOKEN_EXPIRED, refused.getError().getCode(), refused.toString());
        }
    }

    @Test
    void theSdkReconnectsWithAFreshTokenWhenItsTokenExpires() throws Exception {
        AtomicInteger minted = new AtomicInteger();
        LinkedBlockingQueue<DisconnectReason> disconnects = new LinkedBlockingQueue<>();
        try (ParleyClient client = ParleyClient.builder().host("127.0.0.1").port(server.port).deviceId("sdk")
                .tokenSupplier(() -> {
                    minted.incrementAndGet();
                    return server.tokens().mint("refresher", null, Duration.ofSeconds(2));
                })
                .connectionListener(new ConnectionListener() {
                    @Override
                    public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                        disconnects.add(reason);
                    }
                })
                .build()) {
            client.connect().get(10, TimeUnit.SECONDS);
            assertEquals(DisconnectReason.TOKEN_EXPIRED, disconnects.poll(10, TimeUnit.SECONDS));
            // reconnected on a fresh token: sends go through
            assertTrue(client.sendText("someone", "after refresh").get(10, TimeUnit.SECONDS).getSeq() >= 1);
            assertTrue(minted.get() >= 2, "a fresh token was fetched: " + minted.get());
        }
    }

    @Test
    void tokensNotValidYetOrLivingTooLongAreRefused() throws Exception {
        byte[] secret = secret();
        Instant now = Instant.now();
        String notYet = sign(secret, new JWTClaimsSet.Builder().issuer("parley").subject("early")
                .issueTime(Date.from(now)).notBeforeTime(Date.from(now.plusSeconds(3600)))
                .expirationTime(Date.from(now.plusSeconds(7200))).build());
        String forever = sign(secret, new JWTClaimsSet.Builder().issuer("parley").subject("forever")
                .issueTime(Date.from(now)).expirationTime(Date.from(Instant.parse("9999-12-31T00:00:00Z"))).build());
        String noIat = sign(secret, new JWTClaimsSet.Builder().issuer("parley").subject("forever")
                .expirationTime(Date.from(now.plus(Duration.ofDays(365)))).build());
        for (String token : new String[] {notYet, forever, noIat}) {
            try (RawConnection c = new RawConnection("127.0.0.1", server.port)) {
                c.send(hello(token, "d1"));
                Frame refused = c.read();
                assertEquals(ErrorCode.ERROR_CODE_UNAUTHENTICATED, refused.getError().getCode(), refused.toString());
                assertTrue(c.closedByServer());
            }
        }
        assertTrue(server.log().contains("Refusing hello"), "refusals are logged");
    }

    private static byte[] secret() throws Exception {
        java.util.Properties p = new java.util.Properties();
        try (var r = Files.newBufferedReader(server.home.resolve("conf/parley.auth.jwt.cfg"))) {
            p.load(r);
        }
        return p.getProperty("secret").trim().getBytes(StandardCharsets.UTF_8);
    }

    private static String sign(byte[] secret, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(secret));
        return jwt.serialize();
    }
}
