package io.parley.calls;

import io.parley.calls.proto.IceServer;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The ICE servers handed to a device: one entry with the STUN URLs, and one with the TURN URLs and a credential in
 * coturn's {@code use-auth-secret} (TURN REST API) convention — username {@code "<unix expiry>:<user>"}, credential
 * {@code base64(HMAC-SHA1(secret, username))} — so a coturn with {@code static-auth-secret} set to the same secret
 * accepts it. Pure and thread-safe.
 */
final class IceServers {
    private IceServers() {
    }

    /**
     * @param nowMillis epoch ms; the TURN credential expires {@code settings.turnTtl()} later (whole seconds)
     * @return the entries for {@code user}: none configured gives an empty list
     */
    static List<IceServer> forUser(CallSettings settings, String user, long nowMillis) {
        List<IceServer> out = new ArrayList<>(2);
        if (!settings.stunUrls().isEmpty()) {
            out.add(IceServer.newBuilder().addAllUrls(settings.stunUrls()).build());
        }
        if (settings.hasTurn()) {
            String username = turnUsername(turnExpiry(settings, nowMillis) / 1000, user);
            out.add(IceServer.newBuilder().addAllUrls(settings.turnUrls()).setUsername(username)
                    .setCredential(turnCredential(settings.turnSecret(), username)).build());
        }
        return out;
    }

    /** @return epoch ms (a whole second) when a TURN credential made at {@code nowMillis} expires */
    static long turnExpiry(CallSettings settings, long nowMillis) {
        return (nowMillis / 1000 + settings.turnTtl().toSeconds()) * 1000;
    }

    static String turnUsername(long expiryUnixSeconds, String user) {
        return expiryUnixSeconds + ":" + user;
    }

    /** @return base64 (standard alphabet, padded) of HMAC-SHA1 of {@code username} under {@code secret} (UTF-8) */
    static String turnCredential(String secret, String username) {
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
            return Base64.getEncoder().encodeToString(mac.doFinal(username.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA1 is not available", e);
        }
    }
}
