package io.parley.core.spi.blob;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A short-lived grant to move the bytes of exactly one blob: upload them (once, up to {@code size}) or download them.
 * The server that issues it (the file type's commands, in the "app server" role of DESIGN.md §2) and the server that
 * honours it (the HTTP transport's {@code /blobs/} endpoints) share nothing but the secret ({@code ticket.secret} in
 * {@code conf/parley.blob.cfg}), so any node holding the secret can serve any ticket.
 *
 * <p>The token is {@code base64url(fields) "." base64url(HMAC-SHA256(secret, fields))}; it names its access, key,
 * user, size, content type and expiry, so a ticket for one key never opens another, an upload ticket never downloads,
 * and nothing in it can be changed without the secret. Immutable and thread-safe.
 *
 * @param access      what it allows
 * @param key         the one blob key it is for ({@link #validKey})
 * @param user        whom it was issued to (quotas are counted per user)
 * @param size        for an upload, the exact number of bytes to upload; for a download, the blob's size
 * @param contentType the media type the blob is stored and served with
 * @param expires     the last instant it is honoured
 * @since 1.1
 */
public record BlobTicket(Access access, String key, String user, long size, String contentType, Instant expires) {

    /** What a ticket allows. */
    public enum Access { UPLOAD, DOWNLOAD }

    /** Why a token is not honoured. */
    public enum Problem { MALFORMED, BAD_SIGNATURE, EXPIRED }

    /** A token that is not honoured, with the reason a client may be told. */
    public static final class InvalidTicketException extends Exception {
        private final Problem problem;

        public InvalidTicketException(Problem problem, String message) {
            super(message);
            this.problem = problem;
        }

        public Problem problem() {
            return problem;
        }
    }

    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9._/-]{1,200}");
    private static final Pattern MEDIA_TYPE = Pattern.compile("[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}");
    private static final Pattern USER = Pattern.compile("[A-Za-z0-9._@-]{1,64}");
    private static final String VERSION = "t1";
    private static final int MIN_SECRET_BYTES = 32;

    public BlobTicket {
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(expires, "expires");
        if (!validKey(key)) {
            throw new IllegalArgumentException("invalid blob key: " + key);
        }
        if (user == null || !USER.matcher(user).matches()) {
            throw new IllegalArgumentException("invalid user id: " + user);
        }
        if (contentType == null || !validContentType(contentType)) {
            throw new IllegalArgumentException("invalid content type: " + contentType);
        }
        if (size < 0) {
            throw new IllegalArgumentException("size must not be negative: " + size);
        }
    }

    /**
     * @return true for 1–200 characters of {@code [A-Za-z0-9._/-]} with no empty, {@code .} or {@code ..} segment and
     *         no leading or trailing {@code /}: the keys every {@link BlobStore} accepts
     */
    public static boolean validKey(String key) {
        if (key == null || !KEY.matcher(key).matches()) {
            return false;
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return false;
            }
        }
        return true;
    }

    /** @return true for a {@code type/subtype} media type without parameters */
    public static boolean validContentType(String contentType) {
        return contentType != null && MEDIA_TYPE.matcher(contentType).matches();
    }

    /** @return true once {@code now} is past {@link #expires} */
    public boolean expiredAt(Instant now) {
        return now.isAfter(expires);
    }

    /**
     * @param secret at least 32 bytes
     * @return the token
     */
    public String sign(byte[] secret) {
        String fields = String.join("|", VERSION, access.name(), key, user, Long.toString(size), contentType,
                Long.toString(expires.getEpochSecond()));
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        byte[] bytes = fields.getBytes(StandardCharsets.US_ASCII);
        return b64.encodeToString(bytes) + "." + b64.encodeToString(mac(secret, bytes));
    }

    /**
     * Reads and checks a token: signature first, then expiry.
     *
     * @return the ticket the token stands for
     * @throws InvalidTicketException if it is malformed, not signed with {@code secret}, or expired at {@code now}
     */
    public static BlobTicket verify(String token, byte[] secret, Instant now) throws InvalidTicketException {
        if (token == null || token.length() > 1024) {
            throw new InvalidTicketException(Problem.MALFORMED, "malformed ticket");
        }
        int dot = token.indexOf('.');
        byte[] fields;
        byte[] signature;
        try {
            if (dot <= 0 || dot != token.lastIndexOf('.')) {
                throw new IllegalArgumentException();
            }
            fields = Base64.getUrlDecoder().decode(token.substring(0, dot));
            signature = Base64.getUrlDecoder().decode(token.substring(dot + 1));
        } catch (IllegalArgumentException e) {
            throw new InvalidTicketException(Problem.MALFORMED, "malformed ticket");
        }
        if (!MessageDigest.isEqual(mac(secret, fields), signature)) {
            throw new InvalidTicketException(Problem.BAD_SIGNATURE, "ticket signature does not match");
        }
        BlobTicket ticket;
        try {
            String[] f = new String(fields, StandardCharsets.US_ASCII).split("\\|", -1);
            if (f.length != 7 || !f[0].equals(VERSION)) {
                throw new IllegalArgumentException("unknown ticket format");
            }
            ticket = new BlobTicket(Access.valueOf(f[1]), f[2], f[3], Long.parseLong(f[4]), f[5],
                    Instant.ofEpochSecond(Long.parseLong(f[6])));
        } catch (RuntimeException e) {
            throw new InvalidTicketException(Problem.MALFORMED, "malformed ticket");
        }
        if (ticket.expiredAt(now)) {
            throw new InvalidTicketException(Problem.EXPIRED, "ticket expired");
        }
        return ticket;
    }

    private static byte[] mac(byte[] secret, byte[] data) {
        if (secret == null || secret.length < MIN_SECRET_BYTES) {
            throw new IllegalArgumentException("the ticket secret must have at least " + MIN_SECRET_BYTES + " bytes");
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }
}
