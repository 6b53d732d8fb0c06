package io.parley.calls;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The room registry's credentials: room ids and HMAC-signed room tokens. A token names one room, one user, one device
 * and its expiry, signed with HMAC-SHA256 under a secret drawn when this instance is made (rooms live in this node's
 * memory only, so a token never needs to outlive it). Format: {@code base64url(room \n user \n device \n expiry ms)}
 * {@code .} {@code base64url(hmac)} — opaque to clients.
 *
 * <p>Thread-safe (a fresh {@link Mac} per call); pure apart from the random secret and ids.
 */
final class Rooms {
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getUrlDecoder();
    private final SecureRandom random = new SecureRandom();
    private final byte[] secret = new byte[32];

    Rooms() {
        random.nextBytes(secret);
    }

    /** @return a fresh random id with {@code prefix}, e.g. {@code c-…} for calls, {@code r-…} for rooms */
    String newId(String prefix) {
        byte[] b = new byte[12];
        random.nextBytes(b);
        return prefix + B64.encodeToString(b);
    }

    /** @return a token for {@code user} on {@code device} in {@code room}, valid until {@code expiresAt} (epoch ms) */
    String token(String room, String user, String device, long expiresAt) {
        byte[] claims = (room + "\n" + user + "\n" + device + "\n" + expiresAt).getBytes(StandardCharsets.UTF_8);
        return B64.encodeToString(claims) + "." + B64.encodeToString(sign(claims));
    }

    /**
     * @throws io.parley.core.api.ParleyException FORBIDDEN {@code invalid room token} (missing, malformed, forged, or
     *                                            for another room, user or device) or {@code the room token expired}
     */
    void verify(String token, String room, String user, String device, long now) {
        int dot = token == null ? -1 : token.indexOf('.');
        if (dot <= 0) {
            throw CallRefusal.forbidden("invalid room token");
        }
        byte[] claims;
        byte[] mac;
        try {
            claims = B64D.decode(token.substring(0, dot));
            mac = B64D.decode(token.substring(dot + 1));
        } catch (IllegalArgumentException e) {
            throw CallRefusal.forbidden("invalid room token");
        }
        if (!MessageDigest.isEqual(mac, sign(claims))) {
            throw CallRefusal.forbidden("invalid room token");
        }
        String[] parts = new String(claims, StandardCharsets.UTF_8).split("\n", -1);
        if (parts.length != 4 || !parts[0].equals(room) || !parts[1].equals(user) || !parts[2].equals(device)) {
            throw CallRefusal.forbidden("invalid room token");
        }
        long expiresAt;
        try {
            expiresAt = Long.parseLong(parts[3]);
        } catch (NumberFormatException e) {
            throw CallRefusal.forbidden("invalid room token");
        }
        if (now >= expiresAt) {
            throw CallRefusal.forbidden("the room token expired");
        }
    }

    private byte[] sign(byte[] claims) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(claims);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }
}
