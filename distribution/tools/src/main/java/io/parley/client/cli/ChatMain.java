package io.parley.client.cli;

import io.parley.client.Attachments;
import io.parley.client.MediaMessages;
import io.parley.client.Bodies;
import io.parley.client.CallEvents;
import io.parley.client.ConnectionListener;
import io.parley.client.DisconnectReason;
import io.parley.client.Groups;
import io.parley.client.ParleyClient;
import io.parley.client.ProgressListener;
import io.parley.client.Recalls;
import io.parley.core.api.Ids;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.GroupMember;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncResponse;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A line-oriented chat client.
 *
 * <pre>
 * java -cp ... io.parley.client.cli.ChatMain --host 127.0.0.1 --port 7700 --device laptop [--token T]
 *     [--tls] [--trust cert.pem]
 * java -cp ... io.parley.client.cli.ChatMain --url ws://127.0.0.1:7701/parley --device laptop [--token T]
 * </pre>
 *
 * <p>The token comes from {@code --token} or the environment variable {@code PARLEY_TOKEN}. {@code --tls} speaks
 * TLS, trusting the JDK's default trust store; {@code --trust FILE} (implies {@code --tls}) trusts the PEM
 * certificate(s) in FILE instead, e.g. the development certificate of {@code bin/parley cert}; the certificate must
 * name {@code --host}. {@code --url} gives transport and address in one ({@code tcp://host:port},
 * {@code tls://host:port}, {@code ws://host:port/path}, {@code wss://host:port/path}; see
 * {@link ParleyClient.Builder#url}) and takes the place of {@code --host} and {@code --port}, which are then ignored;
 * TLS then comes from the scheme ({@code --trust} still applies and turns it on, {@code --tls} is refused with
 * {@code tcp://} or {@code ws://}). Input lines:
 * <ul>
 * <li>{@code @bob hello there} sends "hello there" to bob; {@code @bob} alone makes bob the current target;</li>
 * <li>{@code #G hello all} sends to group {@code G}; {@code #G} alone makes that group the current target;</li>
 * <li>any other line goes to the current target; before there is one, to whoever wrote last (printed to stderr as
 * {@code * to @bob (who wrote last)});</li>
 * <li>{@code #G} names a group by its id or by its name (any case; when several of the user's groups share the name
 * the client lists their ids);</li>
 * <li>{@code /reply TEXT} (or {@code /r TEXT}) sends to whoever wrote last (the peer of a 1:1 message, the group of
 * a group message) and makes that the current target;</li>
 * <li>{@code /emoji EMOJI [@user | #group]} sends a message of the optional {@code emoji} type (an emoji, or a
 * shortcode such as {@code :+1:}; {@code /emoji} alone lists them); received emoji print as the emoji itself;</li>
 * <li>{@code /help} prints the commands;</li>
 * <li>{@code /group create NAME user1 user2 ...} creates a group and prints {@code ✓ group ID "NAME": members};</li>
 * <li>{@code /list} prints the conversations, most recent first, as
 * {@code conversation "title" unread N[ | sender: text]};</li>
 * <li>{@code /read} marks every conversation read up to the last message received or sent in this session;</li>
 * <li>{@code /recall SEQ} recalls the message at SEQ in the current target's conversation ({@code /recall
 * CONVERSATION SEQ} in any) and prints {@code ✓ recalled #SEQ}: the sender within the server's window, a group's
 * owner and admins any member's message;</li>
 * <li>{@code /file PATH [TO]} sends the file at PATH to TO ({@code @user}, {@code #group} or a user id; default: the
 * current target) and makes TO the current target; {@code /image PATH [TO]} sends it as an image (the server reads
 * its dimensions and makes a thumbnail). The content type comes from the file's extension. Upload progress goes to
 * stderr as {@code * uploading NAME: N% (X of Y)}, in steps of 10%; the ack is {@code ✓ #seq};</li>
 * <li>{@code /download SEQ [DIR]} saves the file or image at SEQ into DIR (default: the working directory) under its
 * name with path separators and control characters replaced by {@code _}, never over an existing file (then
 * {@code NAME (1).EXT}, {@code NAME (2).EXT}, …), checking its size and SHA-256, and prints
 * {@code ✓ saved #SEQ to PATH (SIZE)}. SEQ is in the conversation of the last file or image printed with that seq,
 * else in the current target's; {@code /download CONVERSATION SEQ [DIR]} names the conversation;</li>
 * <li>{@code /call [@user | #group] [video]} calls (signalling only: this chat sends no media), {@code /accept} and
 * {@code /reject} answer the call ringing, {@code /hangup} leaves or cancels; call events print as
 * {@code * 📞 alice is calling (video) — /accept or /reject}, {@code * call ended 1:23},
 * {@code * missed call from alice}, and received signals as {@code bob: 📶 OFFER from bob/phone (N bytes)}
 * ({@link ChatCalls});</li>
 * <li>{@code /voice PATH [TO]} sends the audio file at PATH (.webm, .ogg/.opus, .m4a) as a voice message with a
 * flat waveform (the chat decodes no audio); {@code /video PATH POSTER [TO]} sends the video at PATH (.webm, .mp4)
 * with the still frame POSTER (.jpg, .png). The server measures them; {@code /download SEQ} saves the clip;</li>
 * <li>{@code /quit} ends.</li>
 * </ul>
 * Output (stdout): received messages as {@code [conversation #seq] sender: text}, files and images as
 * {@code [conversation #seq] sender: 📎 NAME (SIZE) — /download SEQ} and
 * {@code [conversation #seq] sender: 🖼 NAME (W×H, SIZE) — /download SEQ}, voice and video messages as
 * {@code [conversation #seq] sender: 🎤 voice 0:12 — /download SEQ} and
 * {@code [conversation #seq] sender: 🎬 video 0:34 640×480 — /download SEQ}, group changes as
 * {@code [conversation #seq] * description}, a recall as {@code [conversation #seq] * alice recalled #N} (a recalled
 * message read later shows as {@code sender: message recalled}), acks as {@code ✓ #seq}; status (connection, read cursors of others,
 * typing) and errors go to stderr. At {@code /quit} or end of input it waits for the pending acks, then exits: 0 if
 * all were acked, 1 if a send or a command failed, 2 for bad arguments, 3 if the connection failed.
 */
public final class ChatMain {
    private ChatMain() {
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        System.exit(run(args, System.in, out, err, System.getenv()));
    }

    /** Runs the client until /quit or end of {@code in}; returns the exit code. */
    public static int run(String[] args, InputStream in, PrintStream out, PrintStream err, Map<String, String> env) {
        String host = "127.0.0.1";
        int port = -1;
        String token = env.get("PARLEY_TOKEN");
        String device = null;
        boolean tls = false;
        Path trust = null;
        String url = null;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--url" -> url = args[++i];
                    case "--host" -> host = args[++i];
                    case "--port" -> port = Integer.parseInt(args[++i]);
                    case "--token" -> token = args[++i];
                    case "--device" -> device = args[++i];
                    case "--tls" -> tls = true;
                    case "--trust" -> {
                        trust = Path.of(args[++i]);
                        tls = true;
                    }
                    case "-h", "--help" -> {
                        usage(out);
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (RuntimeException e) {
            err.println("error: " + e.getMessage());
            usage(err);
            return 2;
        }
        if ((port < 0 && url == null) || device == null || token == null || token.isEmpty()) {
            err.println("error: --port (or --url), --device and a token (--token or PARLEY_TOKEN) are required");
            usage(err);
            return 2;
        }

        Map<String, Long> seen = new ConcurrentHashMap<>();
        Map<Long, String> attachments = new ConcurrentHashMap<>();
        ChatTargets targets = new ChatTargets();
        ConnectHints.Address address;
        try {
            address = ConnectHints.Address.of(url, host, port);
        } catch (IllegalArgumentException e) {
            address = new ConnectHints.Address(host, port);
        }
        ConnectHints.Address probeAddress = address;
        String scheme = url == null ? "" : url.strip().toLowerCase(Locale.ROOT);
        boolean plaintext = !tls && !scheme.startsWith("wss:") && !scheme.startsWith("tls:");
        // a plaintext client at a TLS-only transport is dropped without a word: after the first such drop, look
        // once whether the address speaks TLS, and say so instead of reconnecting forever
        CompletableFuture<String> tlsHint = new CompletableFuture<>();
        CompletableFuture<Void> probeDone = new CompletableFuture<>();
        java.util.concurrent.atomic.AtomicBoolean everConnected = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicBoolean probed = new java.util.concurrent.atomic.AtomicBoolean();
        ParleyClient.Builder builder = ParleyClient.builder()
                .deviceId(device).token(token)
                .messageListener(m -> {
                    targets.received(m);
                    seen.merge(m.getConversation(), m.getSeq(), Math::max);
                    if (Attachments.isAttachment(m) || MediaMessages.isMedia(m)) {
                        attachments.put(m.getSeq(), m.getConversation());
                    }
                    printMessage(out, m);
                })
                .readListener(r -> print(err, "* " + r.getUser() + " read " + r.getConversation() + " up to #"
                        + r.getSeq()))
                .typingListener(t -> {
                    if (t.getTyping()) {
                        print(err, "* " + t.getUser() + " is typing in " + t.getConversation());
                    }
                })
                .connectionListener(new ConnectionListener() {
                    @Override
                    public void onConnected(HelloOk session) {
                        everConnected.set(true);
                        err.println("* connected as " + session.getUserId() + " (device " + session.getDeviceId()
                                + ")");
                    }

                    @Override
                    public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                        if (plaintext && !everConnected.get() && probed.compareAndSet(false, true)) {
                            Thread probe = new Thread(() -> {
                                if (ConnectHints.speaksTls(probeAddress, 3000)) {
                                    tlsHint.complete(ConnectHints.tlsHint(probeAddress, scheme.startsWith("ws:")));
                                }
                                probeDone.complete(null);
                            }, "parley-chat-tls-probe");
                            probe.setDaemon(true);
                            probe.start();
                        }
                        if (reason != DisconnectReason.CLOSED_BY_CLIENT) {
                            err.println("* disconnected: " + reason + (willRetry ? ", reconnecting" : ""));
                        }
                    }
                });
        ParleyClient client;
        try {
            if (url != null) {
                builder.url(url);
                if (tls && trust == null && (scheme.startsWith("ws:") || scheme.startsWith("tcp:"))) {
                    throw new IllegalArgumentException("--tls with a plaintext --url: use wss:// or tls://");
                }
            } else {
                builder.host(host).port(port).tls(tls);
            }
            if (trust != null) {
                builder.trustCertificate(trust);
            }
            client = builder.build();
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
            return 2;
        }
        ChatCalls calls = new ChatCalls(client, out, err);
        try {
            try {
                CompletableFuture.anyOf(client.connect(), tlsHint).get(30, TimeUnit.SECONDS);
                if (tlsHint.isDone()) {
                    err.println("error: cannot connect: " + tlsHint.join());
                    return 3;
                }
            } catch (ExecutionException | TimeoutException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                if (plaintext && !everConnected.get() && !ConnectHints.refused(cause)) {
                    if (probed.compareAndSet(false, true)) {
                        if (ConnectHints.speaksTls(probeAddress, 3000)) {
                            tlsHint.complete(ConnectHints.tlsHint(probeAddress, scheme.startsWith("ws:")));
                        }
                    } else {
                        try {
                            probeDone.get(5, TimeUnit.SECONDS);
                        } catch (InterruptedException interrupted) {
                            Thread.currentThread().interrupt();
                        } catch (ExecutionException | TimeoutException probeHung) {
                            // no hint then
                        }
                    }
                }
                err.println("error: cannot connect: " + (tlsHint.isDone() ? tlsHint.join()
                        : ConnectHints.explain(cause, address)));
                return 3;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 3;
            }
            return chat(client, in, out, err, seen, attachments, targets, calls);
        } finally {
            client.close();
        }
    }

    /** Where plain lines go: a user ({@code @peer}) or a group ({@code #group}). */
    private record Target(String peer, String group) {
        String conversation(String me) {
            return peer != null ? Ids.direct(me, peer) : Groups.conversationOf(group);
        }

        CompletableFuture<SendAck> sendText(ParleyClient client, String text) {
            return peer != null ? client.sendText(peer, text) : client.sendTextToGroup(group, text);
        }

        CompletableFuture<SendAck> sendFile(ParleyClient client, Path file, boolean image, ProgressListener p) {
            if (peer != null) {
                return image ? client.sendImage(peer, file, null, p) : client.sendFile(peer, file, null, p);
            }
            String conversation = Groups.conversationOf(group);
            return image ? client.sendImageToConversation(conversation, file, null, p)
                    : client.sendFileToConversation(conversation, file, null, p);
        }

        /** @return the target {@code @user}, {@code #group} or {@code user} names */
        static Target parse(String to) {
            String name = to.startsWith("@") || to.startsWith("#") ? to.substring(1) : to;
            if (name.isEmpty()) {
                throw new IllegalArgumentException("no user or group in " + to);
            }
            return to.startsWith("#") ? new Target(null, name) : new Target(name, null);
        }
    }

    private static int chat(ParleyClient client, InputStream in, PrintStream out, PrintStream err,
            Map<String, Long> seen, Map<Long, String> attachments, ChatTargets targets, ChatCalls calls) {
        List<CompletableFuture<?>> pending = new ArrayList<>();
        Target target = null;
        boolean failed = false;
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                if (line.equals("/quit")) {
                    break;
                }
                if (line.equals("/reply") || line.startsWith("/reply ") || line.equals("/r") || line.startsWith("/r ")) {
                    // "/reply text": to whoever wrote last, who becomes the current target
                    String last = targets.lastWriter(client.session().getUserId());
                    if (last == null) {
                        err.println("error: /reply: nobody has written to you yet");
                        failed = true;
                        continue;
                    }
                    int space = line.indexOf(' ');
                    line = last + (space < 0 ? "" : " " + line.substring(space + 1).strip());
                }
                if (line.equals("/emoji") || line.startsWith("/emoji ")) {
                    Target to = sendEmoji(client, line, out, err, seen, target, targets, pending);
                    failed |= to == null;
                    target = to != null ? to : target;
                    continue;
                }
                if (line.equals("/voice") || line.startsWith("/voice ") || line.equals("/video")
                        || line.startsWith("/video ")) {
                    Target to = sendMedia(client, line, out, err, seen, target, targets);
                    failed |= to == null;
                    target = to != null ? to : target;
                    continue;
                }
                if (line.startsWith("/file ") || line.startsWith("/image ") || line.equals("/file")
                        || line.equals("/image")) {
                    Target to = sendFile(client, line, out, err, seen, target);
                    failed |= to == null;
                    target = to != null ? to : target;
                    continue;
                }
                if (ChatCalls.handles(line)) {
                    failed |= !calls.run(line, target == null ? null : target.peer(),
                            target == null ? null : target.group());
                    continue;
                }
                if (line.startsWith("/")) {
                    failed |= !command(client, line, out, err, seen, target, attachments);
                    continue;
                }
                String text = line;
                if (line.startsWith("@") || line.startsWith("#")) {
                    int space = line.indexOf(' ');
                    String name = space < 0 ? line.substring(1) : line.substring(1, space);
                    if (line.startsWith("#") && !name.isEmpty()) {
                        // a group by id or by name
                        name = groupId(client, targets, name, err);
                        if (name == null) {
                            failed = true;
                            continue;
                        }
                    }
                    target = name.isEmpty() ? null
                            : line.startsWith("@") ? new Target(name, null) : new Target(null, name);
                    text = space < 0 ? "" : line.substring(space + 1).strip();
                    if (text.isEmpty()) {
                        continue;
                    }
                }
                if (target == null) {
                    String last = targets.lastWriter(client.session().getUserId());
                    if (last != null) {
                        target = Target.parse(last);
                        err.println("* to " + last + " (who wrote last)");
                    }
                }
                if (target == null) {
                    err.println("error: no peer yet; start with @user text or #group text (/help lists the commands)");
                    failed = true;
                    continue;
                }
                pending.removeIf(CompletableFuture::isDone);
                pending.add(target.sendText(client, text).whenComplete((ack, e) -> {
                    if (e == null) {
                        seen.merge(ack.getConversation(), ack.getSeq(), Math::max);
                        print(out, "✓ #" + ack.getSeq());
                    } else {
                        print(err, "error: send failed: " + (e.getCause() != null ? e.getCause() : e));
                    }
                }));
            }
        } catch (IOException e) {
            err.println("error: reading input: " + e);
            failed = true;
        }
        try {
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failed = true;
        } catch (ExecutionException | TimeoutException e) {
            failed = true;
        }
        return failed ? 1 : 0;
    }

    /** @return the group id for {@code #word} (an id or a group name), or null after printing why there is none */
    private static String groupId(ParleyClient client, ChatTargets targets, String word, PrintStream err) {
        try {
            return targets.groupId(client, word);
        } catch (IllegalArgumentException e) {
            err.println("error: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            err.println("error: cannot look up group " + word + ": " + (e.getCause() != null ? e.getCause() : e));
        }
        return null;
    }

    /**
     * Runs {@code /emoji EMOJI [@user | #group]} ({@code /emoji} alone lists the shortcodes): sends a message of the
     * optional {@code emoji} type.
     *
     * @return the target it went to, or null if it could not be sent
     */
    private static Target sendEmoji(ParleyClient client, String line, PrintStream out, PrintStream err,
            Map<String, Long> seen, Target current, ChatTargets targets, List<CompletableFuture<?>> pending) {
        String[] words = line.split("\\s+");
        if (words.length == 1) {
            new java.util.TreeMap<>(ChatTargets.SHORTCODES).forEach((code, e) -> print(out, code + " " + e));
            return current;
        }
        String emoji = ChatTargets.emoji(words[1]);
        if (emoji == null || words.length > 3) {
            err.println("error: usage: /emoji EMOJI [@user | #group]  (an emoji, or a shortcode: /emoji lists them)");
            return null;
        }
        Target to = current;
        if (words.length == 3) {
            to = Target.parse(words[2]);
            if (to.group() != null) {
                String id = groupId(client, targets, to.group(), err);
                if (id == null) {
                    return null;
                }
                to = new Target(null, id);
            }
        }
        if (to == null) {
            String last = targets.lastWriter(client.session().getUserId());
            to = last == null ? null : Target.parse(last);
        }
        if (to == null) {
            err.println("error: /emoji: no current @user or #group yet");
            return null;
        }
        com.google.protobuf.Any body = Bodies.emoji(emoji);
        CompletableFuture<SendAck> sent = to.peer() != null ? client.send(to.peer(), Bodies.EMOJI_TYPE, body)
                : client.sendToGroup(to.group(), Bodies.EMOJI_TYPE, body);
        pending.removeIf(CompletableFuture::isDone);
        pending.add(sent.whenComplete((ack, e) -> {
            if (e == null) {
                seen.merge(ack.getConversation(), ack.getSeq(), Math::max);
                print(out, "✓ #" + ack.getSeq());
            } else {
                String why = String.valueOf(e.getCause() != null ? e.getCause() : e);
                print(err, "error: send failed: " + why + (why.contains("UNSUPPORTED_TYPE")
                        ? " (the server has no emoji type: copy extras/parley-type-emoji.jar into its deploy/)" : ""));
            }
        }));
        return to;
    }

    /**
     * Runs a {@code /file} or {@code /image} line and waits until the file is sent.
     *
     * @return the target it went to, or null if it failed
     */
    private static Target sendFile(ParleyClient client, String line, PrintStream out, PrintStream err,
            Map<String, Long> seen, Target current) {
        String command = line.startsWith("/image") ? "/image" : "/file";
        boolean image = command.equals("/image");
        String rest = line.substring(command.length()).strip();
        Path file;
        Target to = current;
        try {
            file = rest.isEmpty() ? null : Path.of(rest);
            int space = rest.lastIndexOf(' ');
            if (file != null && !Files.isRegularFile(file) && space > 0) {
                // PATH TO: the last word names the recipient (a PATH with spaces is taken whole when it is a file)
                String last = rest.substring(space + 1);
                String path = rest.substring(0, space).strip();
                if (last.startsWith("@") || last.startsWith("#") || Files.isRegularFile(Path.of(path))) {
                    to = Target.parse(last);
                    file = Path.of(path);
                }
            }
        } catch (IllegalArgumentException e) {   // an invalid path, or "@" / "#" alone
            file = null;
        }
        if (file == null || to == null) {
            err.println("error: usage: " + command + " PATH [@user | #group]"
                    + (file != null ? " (no current @user or #group yet)" : ""));
            return null;
        }
        if (!Files.isRegularFile(file)) {
            err.println("error: " + command + ": no such file: " + file);
            return null;
        }
        try {
            SendAck ack = to.sendFile(client, file, image, progress(err, "uploading " + file.getFileName())).get();
            seen.merge(ack.getConversation(), ack.getSeq(), Math::max);
            print(out, "✓ #" + ack.getSeq());
            return to;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (ExecutionException e) {
            err.println("error: " + command + " failed: " + (e.getCause() != null ? e.getCause() : e));
            return null;
        }
    }

    /**
     * Runs {@code /voice PATH [TO]} or {@code /video PATH POSTER [TO]} (paths without spaces) and waits until the
     * message is sent. The content type comes from the extension; the chat cannot decode audio, so a voice message
     * carries a flat one-sample waveform.
     *
     * @return the target it went to, or null if it failed
     */
    private static Target sendMedia(ParleyClient client, String line, PrintStream out, PrintStream err,
            Map<String, Long> seen, Target current, ChatTargets targets) {
        String[] words = line.split("\\s+");
        boolean video = words[0].equals("/video");
        int files = video ? 2 : 1;
        String usage = video ? "/video PATH POSTER [@user | #group]" : "/voice PATH [@user | #group]";
        Target to = current;
        try {
            if (words.length < 1 + files || words.length > 2 + files) {
                throw new IllegalArgumentException();
            }
            if (words.length == 2 + files) {
                to = Target.parse(words[1 + files]);
            }
        } catch (IllegalArgumentException e) {
            to = null;
        }
        if (to == null || words.length < 1 + files) {
            err.println("error: usage: " + usage + (words.length >= 1 + files ? " (no current @user or #group yet)" : ""));
            return null;
        }
        if (to.group() != null) {
            String id = groupId(client, targets, to.group(), err);
            if (id == null) {
                return null;
            }
            to = new Target(null, id);
        }
        Path clip = Path.of(words[1]);
        Path poster = video ? Path.of(words[2]) : null;
        for (Path p : video ? List.of(clip, poster) : List.of(clip)) {
            if (!Files.isRegularFile(p)) {
                err.println("error: " + words[0] + ": no such file: " + p);
                return null;
            }
        }
        String conversation = to.peer() != null ? null : Groups.conversationOf(to.group());
        ProgressListener progress = progress(err, "uploading " + clip.getFileName());
        try {
            CompletableFuture<SendAck> sent;
            if (video) {
                sent = conversation == null ? client.sendVideo(to.peer(), clip, poster, null, progress)
                        : client.sendVideoToConversation(conversation, clip, poster, null, progress);
            } else {
                byte[] flat = {(byte) 128};
                sent = conversation == null ? client.sendVoice(to.peer(), clip, null, flat, progress)
                        : client.sendVoiceToConversation(conversation, clip, null, flat, progress);
            }
            SendAck ack = sent.get();
            seen.merge(ack.getConversation(), ack.getSeq(), Math::max);
            print(out, "✓ #" + ack.getSeq());
            return to;
        } catch (IllegalArgumentException e) {
            err.println("error: " + words[0] + ": " + e.getMessage());
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (ExecutionException e) {
            err.println("error: " + words[0] + " failed: " + (e.getCause() != null ? e.getCause() : e));
            return null;
        }
    }

    /** Runs {@code /download [CONVERSATION] SEQ [DIR]} and waits for the file; returns false if it failed. */
    private static boolean download(ParleyClient client, String[] words, PrintStream out, PrintStream err,
            Target target, Map<Long, String> attachments) throws InterruptedException, ExecutionException,
            TimeoutException {
        String conversation;
        long seq;
        Path dir;
        try {
            int at = 1;
            conversation = words.length > 1 && words[1].contains(":") ? words[at++] : null;
            seq = Long.parseLong(words[at++]);
            if (seq < 1 || words.length > at + 1) {
                throw new IllegalArgumentException();
            }
            dir = Path.of(words.length > at ? words[at] : ".");
            if (conversation == null) {
                conversation = attachments.get(seq);
            }
            if (conversation == null && target != null) {
                conversation = target.conversation(client.session().getUserId());
            }
            if (conversation == null) {
                throw new IllegalArgumentException();
            }
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            err.println("error: usage: /download SEQ [DIR] (a file or image printed, or in the current @user or "
                    + "#group) | /download CONVERSATION SEQ [DIR]");
            return false;
        }
        if (!Files.isDirectory(dir)) {
            err.println("error: /download: no such directory: " + dir);
            return false;
        }
        SyncResponse read = client.syncRange(conversation, seq, seq, 1).get(30, TimeUnit.SECONDS);
        long s = seq;
        Optional<Attachments.Attachment> attachment = read.getMessagesList().stream().filter(m -> m.getSeq() == s)
                .findFirst().flatMap(m -> Attachments.of(m).or(() -> MediaMessages.of(m).map(MediaMessages.Media::clip)));
        Path saved;
        if (attachment.isPresent()) {
            Attachments.Attachment a = attachment.get();
            saved = client.download(a, freeName(dir, a.name()), progress(err, "downloading " + a.name())).get();
            print(out, "✓ saved #" + seq + " to " + saved + " (" + size(a.size()) + ")");
        } else {
            // not a file or an image (or none, or recalled): the server's refusal says which
            saved = client.download(conversation, seq, freeName(dir, "download-" + seq), ProgressListener.NONE)
                    .get();
            print(out, "✓ saved #" + seq + " to " + saved);
        }
        return true;
    }

    /**
     * @return a path in {@code dir} for {@code name} that does not exist yet: the name with path separators and
     *     control characters replaced by {@code _} ({@code download} if nothing is left), then {@code " (N)"}
     *     before its extension until it is free
     */
    static Path freeName(Path dir, String name) {
        StringBuilder sb = new StringBuilder();
        name.codePoints().forEach(c -> sb.appendCodePoint(c == '/' || c == '\\' || Character.isISOControl(c)
                || c == 0x2028 || c == 0x2029 ? '_' : c));
        String clean = sb.toString().strip();
        if (clean.isEmpty() || clean.equals(".") || clean.equals("..")) {
            clean = "download";
        }
        int dot = clean.lastIndexOf('.');
        String stem = dot > 0 ? clean.substring(0, dot) : clean;
        String ext = dot > 0 ? clean.substring(dot) : "";
        Path p = dir.resolve(clean);
        for (int n = 1; Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS); n++) {
            p = dir.resolve(stem + " (" + n + ")" + ext);
        }
        return p;
    }

    /** Prints {@code * WHAT: N% (X of Y)} to {@code err} at 0% and at every further 10%. */
    private static ProgressListener progress(PrintStream err, String what) {
        int[] printed = {-1};
        return (bytes, total) -> {
            if (total <= 0) {
                return;
            }
            int percent = (int) (bytes * 100 / total);
            int step = percent / 10 * 10;
            if (step > printed[0] || (percent == 100 && printed[0] < 100)) {
                printed[0] = step;
                print(err, "* " + what + ": " + step + "% (" + size(bytes) + " of " + size(total) + ")");
            }
        };
    }

    /** @return {@code bytes} for people: {@code 512 B}, {@code 12.5 KB}, {@code 300 KB}, {@code 1.2 MB} (1 KB = 1024 B) */
    static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return (v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v)
                .replaceAll("\\.0$", "")) + " " + units[u];
    }

    /** Runs a {@code /command} line and waits for its result; returns false if it failed. */
    private static boolean command(ParleyClient client, String line, PrintStream out, PrintStream err,
            Map<String, Long> seen, Target target, Map<Long, String> attachments) {
        String[] words = line.split("\\s+");
        try {
            switch (words[0]) {
                case "/group" -> {
                    if (words.length < 3 || !words[1].equals("create")) {
                        err.println("error: usage: /group create NAME user1 user2 ...");
                        return false;
                    }
                    Group g = client.createGroup(words[2], Arrays.asList(words).subList(3, words.length))
                            .get(30, TimeUnit.SECONDS);
                    print(out, "✓ group " + g.getId() + " \"" + g.getName() + "\": "
                            + String.join(", ", g.getMembersList().stream().map(GroupMember::getUser).toList()));
                }
                case "/list" -> {
                    for (ConversationSummary c : client.conversations().get(30, TimeUnit.SECONDS)) {
                        print(out, c.getConversation() + " \"" + c.getTitle() + "\" unread " + c.getUnread()
                                + (c.hasLast() ? " | " + c.getLast().getSender() + ": " + describe(c.getLast()) : ""));
                    }
                }
                case "/read" -> seen.forEach(client::markRead);
                case "/help" -> usage(out);
                case "/download" -> {
                    return download(client, words, out, err, target, attachments);
                }
                case "/recall" -> {
                    String conversation;
                    long seq;
                    try {
                        if (words.length == 2 && target != null) {
                            conversation = target.conversation(client.session().getUserId());
                            seq = Long.parseLong(words[1]);
                        } else if (words.length == 3) {
                            conversation = words[1];
                            seq = Long.parseLong(words[2]);
                        } else {
                            throw new IllegalArgumentException();
                        }
                        if (seq < 1) {
                            throw new IllegalArgumentException();
                        }
                    } catch (IllegalArgumentException e) {
                        err.println("error: usage: /recall SEQ (in the current @user or #group) | /recall CONVERSATION SEQ");
                        return false;
                    }
                    Recalls.Recall r = client.recall(conversation, seq).get(30, TimeUnit.SECONDS);
                    print(out, "✓ recalled #" + r.seq() + (r.recalledBy().equals(client.session().getUserId())
                            ? "" : " (already recalled by " + r.recalledBy() + ")"));
                }
                default -> {
                    err.println("error: unknown command " + words[0]);
                    return false;
                }
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException | TimeoutException e) {
            err.println("error: " + words[0] + " failed: " + (e.getCause() != null ? e.getCause() : e));
            return false;
        }
    }

    private static void printMessage(PrintStream out, Message m) {
        String head = "[" + m.getConversation() + " #" + m.getSeq() + "] ";
        boolean event = Groups.isEvent(m) || Recalls.isEvent(m) || CallEvents.isEvent(m);
        print(out, head + (event ? "* " + describe(m) : m.getSender() + ": " + describe(m)));
    }

    /**
     * The text of a text message, "message recalled" for a recalled one, a sentence for a group event or a recall,
     * the type otherwise.
     */
    private static String describe(Message m) {
        Optional<String> call = ChatCalls.describe(m, null);
        if (call.isPresent()) {
            return call.get();
        }
        if (Recalls.isTombstone(m)) {
            return "message recalled";
        }
        if (Recalls.isEvent(m)) {
            return Recalls.of(m).map(r -> r.recalledBy() + " recalled #" + r.seq()).orElse("<malformed recall event>");
        }
        if (Bodies.isText(m.getBody())) {
            return Bodies.textOf(m);
        }
        Optional<Attachments.Attachment> attachment = Attachments.of(m);
        if (attachment.isPresent()) {
            Attachments.Attachment a = attachment.get();
            return (a.isImage() ? "🖼 " + a.name() + " (" + a.width() + "×" + a.height() + ", " + size(a.size()) + ")"
                    : "📎 " + a.name() + " (" + size(a.size()) + ")") + " — /download " + m.getSeq();
        }
        Optional<MediaMessages.Media> media = MediaMessages.of(m);
        if (media.isPresent()) {
            return (media.get() instanceof MediaMessages.Video v
                    ? "🎬 video " + clock(v.durationMs()) + " " + v.width() + "×" + v.height()
                    : "🎤 voice " + clock(media.get().durationMs())) + " — /download " + m.getSeq();
        }
        if (Bodies.EMOJI_TYPE_URL.equals(m.getBody().getTypeUrl())) {
            try {
                return Bodies.emojiOf(m.getBody());
            } catch (IllegalArgumentException e) {
                return "<malformed emoji>";
            }
        }
        if (!Groups.isEvent(m)) {
            return "<" + m.getType() + " message>";
        }
        GroupEvent e;
        try {
            e = Groups.eventOf(m);
        } catch (IllegalArgumentException ex) {
            return "<malformed group event>";
        }
        String users = String.join(", ", e.getUsersList());
        return e.getActor() + switch (e.getKind()) {
            case KIND_CREATED -> " created \"" + e.getName() + "\" with " + users;
            case KIND_MEMBERS_ADDED -> " added " + users;
            case KIND_MEMBERS_REMOVED -> " removed " + users;
            case KIND_MEMBER_LEFT -> " left";
            case KIND_DISSOLVED -> " dissolved the group";
            case KIND_ROLE_CHANGED -> " made " + users + " " + e.getRole().name().replace("GROUP_ROLE_", "")
                    .toLowerCase(Locale.ROOT);
            case KIND_MEMBER_MUTED -> e.getMutedUntil() == 0 ? " unmuted " + users
                    : " muted " + users + " until " + Instant.ofEpochMilli(e.getMutedUntil());
            case KIND_GROUP_MUTED -> e.getMuted() ? " muted the group" : " unmuted the group";
            case KIND_OWNER_CHANGED -> " handed ownership to " + users;
            default -> " changed the group (" + e.getKind() + ")";
        };
    }

    /** @return {@code ms} as {@code m:ss} (rounded to the second), {@code h:mm:ss} from an hour on */
    static String clock(long ms) {
        long seconds = Math.max(0, (ms + 500) / 1000);
        return seconds >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60,
                seconds % 60) : String.format(Locale.ROOT, "%d:%02d", seconds / 60, seconds % 60);
    }

    private static void print(PrintStream out, String line) {
        synchronized (out) {
            out.println(line);
        }
    }

    private static void usage(PrintStream out) {
        out.println("usage: chat --host HOST --port PORT --device DEVICE [--token TOKEN]   (token also from $PARLEY_TOKEN)");
        out.println("            [--tls] [--trust CERT.pem]   (TLS; --trust: trust this PEM certificate, implies --tls)");
        out.println("            [--url URL]   (instead of --host/--port: tcp://H:P, tls://H:P, ws://H:P/parley, wss://...)");
        out.println("  then type: @user text | #group text | text (to the last user or group; before any: to who wrote last)");
        out.println("             #group is a group's id or its name; /reply text (or /r text): to who wrote last");
        out.println("             /emoji EMOJI [@user|#group] (an emoji or a shortcode like :+1:; /emoji lists them)");
        out.println("             /help (this list)");
        out.println("             /group create NAME user1 user2 ... | /list | /read | /recall SEQ | /quit");
        out.println("             /file PATH [@user|#group] | /image PATH [@user|#group] | /download SEQ [DIR]");
        out.println("             /voice PATH [@user|#group] | /video PATH POSTER [@user|#group]");
        out.println("             /call [@user|#group] [video] | /accept | /reject | /hangup   (call signalling, no media)");
    }
}
