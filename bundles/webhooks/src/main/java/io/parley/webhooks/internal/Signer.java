package io.parley.webhooks.internal;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;

/**
 * Signs request bodies: {@code sha256=<lower-case hex of HMAC-SHA256(secret, "<timestamp>.<body>")>}, where the
 * secret's UTF-8 bytes are the key and the timestamp is the {@code X-Parley-Timestamp} header (epoch seconds).
 * Thread-safe (a {@link Mac} per call: no thread-locals that would outlive the bundle on foreign threads).
 */
public final class Signer {

    public static final String ALGORITHM = "HmacSHA256";
    public static final String PREFIX = "sha256=";

    private final SecretKeySpec key;

    public Signer(String secret) {
        this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM);
    }

    /** @return the {@code X-Parley-Signature} header value for a body sent with {@code epochSeconds} */
    public String sign(long epochSeconds, byte[] body) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(key);
            mac.update((epochSeconds + ".").getBytes(StandardCharsets.US_ASCII));
            return PREFIX + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(ALGORITHM + " unavailable", e); // every Java 17 runtime has it
        }
    }
}
