package io.parley.itest;

import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/parley chat} against the assembled server with the emoji type deployed from extras/: emoji are shown as
 * themselves and sent with {@code /emoji}, a line before any target and {@code /reply} go to whoever wrote last (a
 * user or a group), a group is addressed by its name, and {@code /help} lists the commands.
 */
class ChatCliIT {
    /** Ports of this test (24400-24499 belong to the instance, configuration and CLI tests). */
    private static final int TCP = 24420;
    private static final int WEBSOCKET = 24421;
    private static final int HTTP = 24422;

    @Test
    void emojiRepliesAndGroupsByName(@TempDir Path dir) throws Exception {
        ServerProcess server = new ServerProcess(dir);
        Path home = server.home;
        ServerProcess.setKey(home.resolve("conf/parley.transport.tcp.cfg"), "port", Integer.toString(TCP));
        ServerProcess.setKey(home.resolve("conf/parley.transport.websocket.cfg"), "port", Integer.toString(WEBSOCKET));
        ServerProcess.setKey(home.resolve("conf/parley.transport.http.cfg"), "port", Integer.toString(HTTP));
        ServerProcess.setKey(home.resolve("conf/parley.blob.cfg"), "public.url", "http://127.0.0.1:" + HTTP);
        Files.copy(home.resolve("extras/parley-type-emoji.jar"), home.resolve("deploy/parley-type-emoji.jar"),
                StandardCopyOption.REPLACE_EXISTING);
        BinParley.Result start = BinParley.run(home, Map.of("PARLEY_CDS", "0"), 120, "start");
        Process chat = null;
        LinkedBlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        try (ParleyClient bob = ParleyClient.builder().host("127.0.0.1").port(TCP).deviceId("phone")
                .token(server.tokens().mint("bob", null, Duration.ofMinutes(10)))
                .messageListener(bobInbox::add).build()) {
            assertEquals(0, start.exit(), start.output());
            bob.connect().get(30, TimeUnit.SECONDS);
            bob.sendText("alice", "hi alice").get(10, TimeUnit.SECONDS);

            chat = new ProcessBuilder(home.resolve("bin/parley").toString(), "chat", "--user", "alice",
                    "--device", "cli").directory(home.toFile())
                    .redirectError(ProcessBuilder.Redirect.appendTo(home.resolve("logs/test-chat.log").toFile()))
                    .start();
            List<String> lines = new CopyOnWriteArrayList<>();
            Process reading = chat;
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(reading.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = r.readLine(); line != null; line = r.readLine()) {
                        lines.add(line);
                    }
                } catch (Exception ignored) {
                    // the process ended
                }
            }, "chat-reader");
            reader.start();
            OutputStream typing = chat.getOutputStream();

            await(lines, l -> l.equals("[d:alice:bob #1] bob: hi alice"));
            type(typing, "/help");
            await(lines, l -> l.contains("/reply") && l.contains("who wrote last"));
            await(lines, l -> l.contains("/emoji EMOJI"));

            type(typing, "thanks bob");                        // no target yet: to who wrote last
            assertEquals("thanks bob", text(next(bobInbox, m -> Bodies.isText(m.getBody()))));

            type(typing, "/emoji :+1: @bob");
            Message thumbs = next(bobInbox, m -> Bodies.EMOJI_TYPE.equals(m.getType()));
            assertEquals("👍", Bodies.emojiOf(thumbs.getBody()));

            bob.send("alice", Bodies.EMOJI_TYPE, Bodies.emoji("🎉")).get(10, TimeUnit.SECONDS);
            await(lines, l -> l.matches("\\[d:alice:bob #\\d+] bob: 🎉"));

            type(typing, "/group create Crew bob");
            String created = await(lines, l -> l.startsWith("✓ group ") && l.contains("\"Crew\""));
            String id = created.substring("✓ group ".length(), created.indexOf(' ', "✓ group ".length()));
            type(typing, "#crew hello crew");                   // by name, any case
            Message toGroup = next(bobInbox, m -> Bodies.isText(m.getBody()));
            assertEquals("g:" + id, toGroup.getConversation());
            assertEquals("hello crew", text(toGroup));

            bob.sendText("alice", "psst").get(10, TimeUnit.SECONDS);
            await(lines, l -> l.endsWith("bob: psst"));
            type(typing, "/reply later");                     // to the 1:1 bob wrote in last, not the group
            Message reply = next(bobInbox, m -> Bodies.isText(m.getBody()));
            assertEquals("d:alice:bob", reply.getConversation());
            assertEquals("later", text(reply));

            typing.close();
            assertTrue(chat.waitFor(30, TimeUnit.SECONDS), "chat ends at end of input");
            assertEquals(0, chat.exitValue(), "every line was acknowledged; " + lines);
        } finally {
            if (chat != null) {
                chat.destroyForcibly();
            }
            BinParley.run(home, Map.of(), 60, "stop");
        }
    }

    private static void type(OutputStream typing, String line) throws Exception {
        typing.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        typing.flush();
    }

    private static String text(Message m) {
        return Bodies.textOf(m);
    }

    private static Message next(LinkedBlockingQueue<Message> inbox, Predicate<Message> wanted) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            Message m = inbox.poll(100, TimeUnit.MILLISECONDS);
            if (m != null && wanted.test(m)) {
                return m;
            }
        }
        throw new AssertionError("bob received nothing matching within 15 s");
    }

    private static String await(List<String> lines, Predicate<String> wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            for (String l : lines) {
                if (wanted.test(l)) {
                    return l;
                }
            }
            Thread.sleep(20);
        }
        assertNotNull(null, "no such line in the chat's output: " + lines);
        return null;
    }
}
