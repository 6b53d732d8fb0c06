package io.parley.client.cli;

import io.parley.client.Bodies;
import io.parley.client.ConnectionListener;
import io.parley.client.DisconnectReason;
import io.parley.client.ParleyClient;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A line-oriented chat client.
 *
 * <pre>
 * java -cp ... io.parley.client.cli.ChatMain --host 127.0.0.1 --port 7700 --device laptop [--token T]
 * </pre>
 *
 * <p>The token comes from {@code --token} or the environment variable {@code PARLEY_TOKEN}. Input lines:
 * {@code @bob hello there} sends "hello there" to bob; {@code @bob} alone makes bob the current peer; any other
 * line goes to the last peer; {@code /quit} ends. Output (stdout): received messages as
 * {@code [conversation #seq] sender: text} and acks as {@code ✓ #seq}; status and errors go to stderr. At
 * {@code /quit} or end of input it waits for the pending acks, then exits: 0 if all were acked, 1 if a send
 * failed, 2 for bad arguments, 3 if the connection failed.
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
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--host" -> host = args[++i];
                    case "--port" -> port = Integer.parseInt(args[++i]);
                    case "--token" -> token = args[++i];
                    case "--device" -> device = args[++i];
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
        if (port < 0 || device == null || token == null || token.isEmpty()) {
            err.println("error: --port, --device and a token (--token or PARLEY_TOKEN) are required");
            usage(err);
            return 2;
        }

        ParleyClient client = ParleyClient.builder()
                .host(host).port(port).deviceId(device).token(token)
                .messageListener(m -> printMessage(out, m))
                .connectionListener(new ConnectionListener() {
                    @Override
                    public void onConnected(HelloOk session) {
                        err.println("* connected as " + session.getUserId() + " (device " + session.getDeviceId()
                                + ")");
                    }

                    @Override
                    public void onDisconnected(DisconnectReason reason, boolean willRetry) {
                        if (reason != DisconnectReason.CLOSED_BY_CLIENT) {
                            err.println("* disconnected: " + reason + (willRetry ? ", reconnecting" : ""));
                        }
                    }
                })
                .build();
        try {
            try {
                client.connect().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                err.println("error: cannot connect: " + (e.getCause() != null ? e.getCause().getMessage() : e));
                return 3;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 3;
            }
            return chat(client, in, out, err);
        } finally {
            client.close();
        }
    }

    private static int chat(ParleyClient client, InputStream in, PrintStream out, PrintStream err) {
        List<CompletableFuture<?>> pending = new ArrayList<>();
        String peer = null;
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
                String text = line;
                if (line.startsWith("@")) {
                    int space = line.indexOf(' ');
                    peer = space < 0 ? line.substring(1) : line.substring(1, space);
                    text = space < 0 ? "" : line.substring(space + 1).strip();
                    if (text.isEmpty()) {
                        continue;
                    }
                }
                if (peer == null || peer.isEmpty()) {
                    err.println("error: no peer yet; start with @user text");
                    failed = true;
                    continue;
                }
                pending.removeIf(CompletableFuture::isDone);
                pending.add(client.sendText(peer, text).whenComplete((ack, e) -> {
                    if (e == null) {
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

    private static void printMessage(PrintStream out, Message m) {
        String text = Bodies.isText(m.getBody()) ? Bodies.textOf(m) : "<" + m.getType() + " message>";
        print(out, "[" + m.getConversation() + " #" + m.getSeq() + "] " + m.getSender() + ": " + text);
    }

    private static void print(PrintStream out, String line) {
        synchronized (out) {
            out.println(line);
        }
    }

    private static void usage(PrintStream out) {
        out.println("usage: chat --host HOST --port PORT --device DEVICE [--token TOKEN]   (token also from $PARLEY_TOKEN)");
        out.println("  then type: @user text | text (to the last user) | /quit");
    }
}
