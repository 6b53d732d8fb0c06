package io.parley.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.parley.core.proto.Message;
import io.parley.type.file.proto.File;
import io.parley.type.file.proto.Image;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Files and images (docs/protocol.md §6e): the message types {@value #FILE_TYPE} and {@value #IMAGE_TYPE}, the
 * commands {@value #UPLOAD_COMMAND} and {@value #DOWNLOAD_COMMAND}, and what a client needs to show and fetch them.
 * The bytes never travel on the message connection: {@link ParleyClient#requestUpload} gets an {@link UploadTicket},
 * {@link ParleyClient#upload} sends the bytes over HTTP to the server's blob endpoints, a message names the uploaded
 * object ({@link #fileBody}, {@link #imageBody}, or all three steps in one: {@link ParleyClient#sendFile},
 * {@link ParleyClient#sendImage}); a recipient reads the message with {@link #of(Message)} and fetches the bytes with
 * {@link ParleyClient#download}. Stateless and thread-safe.
 *
 * <p>The bodies ({@code parley.file.v1.*}) are generated at build time from the file bundle's own {@code file.proto}
 * into a private copy here.
 *
 * @since 1.6
 */
public final class Attachments {
    /** The message type of a file. */
    public static final String FILE_TYPE = "file";
    /** The message type of an image (the server sets its dimensions and thumbnail). */
    public static final String IMAGE_TYPE = "image";
    /** The type URL of a packed {@code parley.file.v1.File}. */
    public static final String FILE_TYPE_URL = "type.googleapis.com/parley.file.v1.File";
    /** The type URL of a packed {@code parley.file.v1.Image}. */
    public static final String IMAGE_TYPE_URL = "type.googleapis.com/parley.file.v1.Image";
    /** The command that hands out an upload ticket ({@link ParleyClient#requestUpload}). */
    public static final String UPLOAD_COMMAND = "file.upload";
    /** The command that hands out download URLs ({@link ParleyClient#downloadTicket}). */
    public static final String DOWNLOAD_COMMAND = "file.download";
    /** The content type of bytes of no known type. */
    public static final String DEFAULT_CONTENT_TYPE = "application/octet-stream";

    private static final Map<String, String> CONTENT_TYPES = Map.ofEntries(
            Map.entry("png", "image/png"), Map.entry("jpg", "image/jpeg"), Map.entry("jpeg", "image/jpeg"),
            Map.entry("gif", "image/gif"), Map.entry("webp", "image/webp"), Map.entry("bmp", "image/bmp"),
            Map.entry("pdf", "application/pdf"), Map.entry("zip", "application/zip"),
            Map.entry("json", "application/json"), Map.entry("txt", "text/plain"), Map.entry("csv", "text/csv"),
            Map.entry("md", "text/markdown"), Map.entry("html", "text/html"), Map.entry("mp3", "audio/mpeg"),
            Map.entry("ogg", "audio/ogg"), Map.entry("wav", "audio/wav"), Map.entry("mp4", "video/mp4"),
            Map.entry("webm", "video/webm"), Map.entry("mov", "video/quicktime"));

    private Attachments() {
    }

    /**
     * The file or image a message carries, as its body says. For an image the server measured {@code width} and
     * {@code height} and made the thumbnail ({@code thumbnailKey}, a JPEG of {@code thumbnailWidth} ×
     * {@code thumbnailHeight}); for a file those are 0 and empty.
     *
     * @param conversation the message's conversation
     * @param seq          the message's seq: with the conversation, what {@link ParleyClient#download} takes
     * @param type         {@value #FILE_TYPE} or {@value #IMAGE_TYPE}
     * @param key          the object's key in the server's blob store
     * @param name         the file's name as shown to people (no path; may still need sanitising before it names a
     *                     local file)
     * @param size         bytes
     * @param contentType  {@code type/subtype}
     * @param sha256       lower-case hex SHA-256 of the bytes, as the server checked it
     */
    public record Attachment(String conversation, long seq, String type, String key, String name, long size,
                             String contentType, String sha256, int width, int height, String thumbnailKey,
                             int thumbnailWidth, int thumbnailHeight) {
        /** @return true for an {@value #IMAGE_TYPE} message */
        public boolean isImage() {
            return IMAGE_TYPE.equals(type);
        }
    }

    /**
     * The server's permission to upload one object ({@code parley.file.v1.UploadTicket}), with the name it was asked
     * for. {@code toString()} leaves out the ticket.
     *
     * @param key           the object's key, chosen by the server
     * @param ticket        the bearer credential for {@code uploadUrl}
     * @param uploadUrl     where the chunks go ({@code <public.url>/blobs/<key>})
     * @param name          the name given to {@link ParleyClient#requestUpload} (not part of the server's answer)
     * @param size          exactly this many bytes are to be uploaded
     * @param contentType   as requested
     * @param expiresAt     the ticket is refused after this
     * @param chunkMaxBytes the largest chunk (one {@code PATCH}) the server takes
     */
    public record UploadTicket(String key, String ticket, URI uploadUrl, String name, long size, String contentType,
                               Instant expiresAt, int chunkMaxBytes) {
        public UploadTicket {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(ticket, "ticket");
            Objects.requireNonNull(uploadUrl, "uploadUrl");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(contentType, "contentType");
            Objects.requireNonNull(expiresAt, "expiresAt");
            if (size < 1 || chunkMaxBytes < 1) {
                throw new IllegalArgumentException("size and chunkMaxBytes must be positive");
            }
        }

        @Override
        public String toString() {
            return "UploadTicket[key=" + key + ", uploadUrl=" + uploadUrl + ", name=" + name + ", size=" + size
                    + ", contentType=" + contentType + ", expiresAt=" + expiresAt + ", chunkMaxBytes=" + chunkMaxBytes
                    + "]";
        }
    }

    /**
     * A complete upload: what a {@value #FILE_TYPE} or {@value #IMAGE_TYPE} message names ({@link #fileBody},
     * {@link #imageBody}).
     *
     * @param sha256 lower-case hex SHA-256 of the bytes uploaded, computed while reading them and checked against the
     *               server's
     */
    public record Upload(String key, String name, long size, String contentType, String sha256) {
    }

    /**
     * Where to fetch a file or image message's bytes ({@code parley.file.v1.DownloadTicket}). The URLs carry their
     * credential (a ticket, or an object store's signature): {@code toString()} leaves out their queries.
     *
     * @param url          {@code GET} it (with {@code Range} to resume) until {@code expiresAt}
     * @param thumbnailUrl the image's thumbnail, null for a file
     */
    public record DownloadTicket(URI url, URI thumbnailUrl, Instant expiresAt) {
        public DownloadTicket {
            Objects.requireNonNull(url, "url");
            Objects.requireNonNull(expiresAt, "expiresAt");
        }

        @Override
        public String toString() {
            return "DownloadTicket[url=" + withoutQuery(url) + ", thumbnailUrl="
                    + (thumbnailUrl == null ? null : withoutQuery(thumbnailUrl)) + ", expiresAt=" + expiresAt + "]";
        }

        private static String withoutQuery(URI u) {
            String s = u.toString();
            int q = s.indexOf('?');
            return q < 0 ? s : s.substring(0, q) + "?…";
        }
    }

    /**
     * The bytes of an upload. {@link #open()} is called when the upload starts and again whenever it must re-read
     * bytes it no longer holds (a resume from before the current chunk); every stream must yield the same bytes from
     * the first one on. Called on the transfer thread; it may block.
     */
    @FunctionalInterface
    public interface Source {
        /** @return a new stream at the first byte; the upload closes it */
        InputStream open() throws IOException;

        /** @return a source reading {@code file} */
        static Source of(Path file) {
            Objects.requireNonNull(file, "file");
            return () -> Files.newInputStream(file);
        }
    }

    /** @return true if {@code m} is a {@value #FILE_TYPE} or {@value #IMAGE_TYPE} message */
    public static boolean isAttachment(Message m) {
        return FILE_TYPE.equals(m.getType()) || IMAGE_TYPE.equals(m.getType());
    }

    /**
     * @return the file or image {@code m} carries; empty for any other message (a recalled one's tombstone included),
     *     or if the body does not parse
     */
    public static Optional<Attachment> of(Message m) {
        try {
            if (FILE_TYPE.equals(m.getType()) && FILE_TYPE_URL.equals(m.getBody().getTypeUrl())) {
                File f = File.parseFrom(m.getBody().getValue());
                return Optional.of(new Attachment(m.getConversation(), m.getSeq(), FILE_TYPE, f.getKey(), f.getName(),
                        f.getSize(), f.getContentType(), f.getSha256(), 0, 0, "", 0, 0));
            }
            if (IMAGE_TYPE.equals(m.getType()) && IMAGE_TYPE_URL.equals(m.getBody().getTypeUrl())) {
                Image i = Image.parseFrom(m.getBody().getValue());
                return Optional.of(new Attachment(m.getConversation(), m.getSeq(), IMAGE_TYPE, i.getKey(), i.getName(),
                        i.getSize(), i.getContentType(), i.getSha256(), i.getWidth(), i.getHeight(),
                        i.getThumbnailKey(), i.getThumbnailWidth(), i.getThumbnailHeight()));
            }
        } catch (InvalidProtocolBufferException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** @return the body of a {@value #FILE_TYPE} message naming {@code upload} */
    public static Any fileBody(Upload upload) {
        return Any.pack(File.newBuilder().setKey(upload.key()).setName(upload.name()).setSize(upload.size())
                .setContentType(upload.contentType()).setSha256(upload.sha256()).build());
    }

    /**
     * @return the body of an {@value #IMAGE_TYPE} message naming {@code upload}; the server fills in the dimensions
     *     and the thumbnail
     */
    public static Any imageBody(Upload upload) {
        return Any.pack(Image.newBuilder().setKey(upload.key()).setName(upload.name()).setSize(upload.size())
                .setContentType(upload.contentType()).setSha256(upload.sha256()).build());
    }

    /**
     * @return the content type usual for {@code fileName}'s extension (png, jpg, jpeg, gif, webp, bmp, pdf, zip, json,
     *     txt, csv, md, html, mp3, ogg, wav, mp4, webm, mov; any case), else {@value #DEFAULT_CONTENT_TYPE}
     */
    public static String contentTypeOf(String fileName) {
        int dot = fileName.lastIndexOf('.');
        if (dot < 0 || dot == fileName.length() - 1) {
            return DEFAULT_CONTENT_TYPE;
        }
        return CONTENT_TYPES.getOrDefault(fileName.substring(dot + 1).toLowerCase(Locale.ROOT), DEFAULT_CONTENT_TYPE);
    }

    /** @return the ticket a {@code parley.file.v1.UploadTicket} carries, for an upload of {@code name} */
    static UploadTicket ticketOf(String name, io.parley.type.file.proto.UploadTicket t) {
        return new UploadTicket(t.getKey(), t.getTicket(), URI.create(t.getUploadUrl()), name, t.getSize(),
                t.getContentType(), Instant.ofEpochMilli(t.getExpiresAt()), t.getChunkMaxBytes());
    }

    /** @return the download URLs a {@code parley.file.v1.DownloadTicket} carries */
    static DownloadTicket ticketOf(io.parley.type.file.proto.DownloadTicket t) {
        return new DownloadTicket(URI.create(t.getUrl()),
                t.getThumbnailUrl().isEmpty() ? null : URI.create(t.getThumbnailUrl()),
                Instant.ofEpochMilli(t.getExpiresAt()));
    }
}
