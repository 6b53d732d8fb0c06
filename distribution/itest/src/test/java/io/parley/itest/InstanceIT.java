package io.parley.itest;

import io.parley.auth.jwt.JwtTokens;
import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.core.proto.Frame;
import io.parley.core.proto.Hello;
import io.parley.core.proto.SendAck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's way to run Parley: an instance directory apart from the build ({@code bin/parley --base DIR}). A
 * rebuild deletes and re-creates the build directory while the server runs from the instance: the server keeps
 * running, {@code status}/{@code stop} of the new build still find it, and after a restart through the new build
 * (which upgrades the instance) the messages, the generated JWT secret (tokens minted before still work), the
 * bundle dropped into deploy/ and the operator's conf/ edits are all there; a shipped default that changed is
 * written beside the edited file as {@code .new}. {@code bin/parley shell} opens the running server's console.
 */
class InstanceIT {
    /** Ports of this test (24400-24499 belong to the instance and configuration tests). */
    private static final int TCP = 24401;
    private static final int WEBSOCKET = 24402;
    private static final int HTTP = 24403;

    private static BinParley.Result parley(Path build, Path instance, String... args) throws Exception {
        String[] all = Stream.concat(Stream.of("--base", instance.toString()), Stream.of(args)).toArray(String[]::new);
        return BinParley.run(build, Map.of("PARLEY_CDS", "0"), 120, all);
    }

    @Test
    void messagesTokensDeployAndConfEditsSurviveARebuild(@TempDir Path dir) throws Exception {
        Path dist = Path.of(System.getProperty("parley.dist.dir", "../server/target/parley-0.1.0-SNAPSHOT"));
        assertTrue(Files.isRegularFile(dist.resolve("bin/parley")), "no assembled server at " + dist.toAbsolutePath());
        Path build = dir.resolve("source/target/parley");
        Path instance = dir.resolve("instance");
        copyBuild(dist, build);

        BinParley.Result init = parley(build, instance, "init");
        assertEquals(0, init.exit(), init.output());
        assertTrue(init.output().contains("created instance " + instance.toRealPath()), init.output());
        assertTrue(Files.isRegularFile(instance.resolve("bin/parley")) && Files.isDirectory(instance.resolve("system")),
                "the instance has its own program files");
        Path tcpCfg = instance.resolve("conf/parley.transport.tcp.cfg");
        ServerProcess.setKey(tcpCfg, "port", Integer.toString(TCP));
        ServerProcess.setKey(tcpCfg, "host", "127.0.0.1");
        ServerProcess.setKey(instance.resolve("conf/parley.transport.websocket.cfg"), "port", Integer.toString(WEBSOCKET));
        ServerProcess.setKey(instance.resolve("conf/parley.transport.websocket.cfg"), "host", "127.0.0.1");
        ServerProcess.setKey(instance.resolve("conf/parley.transport.http.cfg"), "port", Integer.toString(HTTP));
        ServerProcess.setKey(instance.resolve("conf/parley.blob.cfg"), "public.url", "http://127.0.0.1:" + HTTP);
        ServerProcess.setKey(instance.resolve("conf/parley.properties"), "felix.fileinstall.poll", "250");

        try {
            BinParley.Result start = parley(build, instance, "start");
            assertEquals(0, start.exit(), start.output());
            assertTrue(start.output().contains("parley: started"), start.output());
            String secret = secret(instance);
            assertEquals(43, secret.length(), "a generated secret in the instance's conf/");
            JwtTokens tokens = JwtTokens.fromConfig(instance.resolve("conf/parley.auth.jwt.cfg"));
            String aliceToken = tokens.mint("alice", null, Duration.ofHours(1));
            String bobToken = tokens.mint("bob", null, Duration.ofHours(1));
            Path emoji = instance.resolve("deploy/parley-type-emoji.jar");
            Files.copy(instance.resolve("extras/parley-type-emoji.jar"), instance.resolve("deploy/.emoji.tmp"));
            Files.move(instance.resolve("deploy/.emoji.tmp"), emoji, StandardCopyOption.ATOMIC_MOVE);
            try (ParleyClient alice = client(aliceToken, "laptop")) {
                for (String text : List.of("one", "two", "three")) {
                    alice.sendText("bob", text).get(10, TimeUnit.SECONDS);
                }
            }

            // the rebuild: `mvn clean install` deletes the build directory and assembles a new one, in which
            // one shipped default changed (a file the operator did not touch) and one the operator did edit
            deleteTree(build);
            assertFalse(Files.exists(build));
            copyBuild(dist, build);
            Path textCfg = build.resolve("conf/parley.type.text.cfg");
            Files.writeString(textCfg, Files.readString(textCfg) + "# a new default of the next build\n");
            Files.writeString(build.resolve("conf/parley.transport.tcp.cfg"),
                    Files.readString(build.resolve("conf/parley.transport.tcp.cfg")) + "# a new key of the next build\n");

            BinParley.Result running = parley(build, instance, "status");
            assertEquals(0, running.exit(), running.output());
            assertTrue(running.output().contains("parley: running (pid "), running.output());
            assertEquals(List.of("one", "two", "three"), texts(bobToken));

            BinParley.Result stop = parley(build, instance, "stop");
            assertEquals(0, stop.exit(), stop.output());
            assertTrue(stop.output().contains("parley: stopped"), stop.output());
            assertEquals(3, parley(build, instance, "status").exit());

            BinParley.Result restart = parley(build, instance, "start");
            assertEquals(0, restart.exit(), restart.output());
            assertTrue(restart.output().contains("upgraded instance " + instance.toRealPath()), restart.output());
            assertTrue(restart.output().contains("kept your conf/parley.transport.tcp.cfg; the new build's version "
                    + "is conf/parley.transport.tcp.cfg.new"), restart.output());
            assertTrue(restart.output().contains("+# a new key of the next build"), "the changed default is shown:\n"
                    + restart.output());
            assertTrue(restart.output().contains("parley: started"), restart.output());

            assertEquals(secret, secret(instance), "the JWT secret survived");
            assertEquals(Files.readString(textCfg), Files.readString(instance.resolve("conf/parley.type.text.cfg")),
                    "an untouched default follows the build");
            assertTrue(Files.readString(tcpCfg).contains("port = " + TCP), "the operator's edit is kept");
            assertTrue(Files.isRegularFile(emoji), "deploy/ keeps the dropped bundle");
            // tokens minted before the rebuild still log in, the history is there, the deployed type works
            assertEquals(List.of("one", "two", "three"), texts(bobToken));
            try (ParleyClient alice = client(aliceToken, "laptop")) {
                SendAck ack = alice.send("bob", Bodies.EMOJI_TYPE, Bodies.emoji("👍")).get(10, TimeUnit.SECONDS);
                assertEquals(4, ack.getSeq());
            }

            // the console of the running server: `bin/parley shell`; `exit` leaves it and the server runs on.
            // The parley:* admin commands answer about the running server (alice is logged in meanwhile).
            String console;
            try (ParleyClient alice = client(aliceToken, "console-laptop")) {
                Process shell = new ProcessBuilder(instance.resolve("bin/parley").toString(), "shell")
                        .directory(instance.toFile()).redirectErrorStream(true).start();
                try (var typing = shell.getOutputStream()) {
                    typing.write(("lb -s\nparley:sessions\nparley:stats\nparley:bundles\nparley:types\n"
                            + "parley:stores\nparley:remove io.parley.core\nparley:install no-such.jar\n"
                            + "parley:kick alice console-laptop\nexit\n")
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                console = new String(shell.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(shell.waitFor(30, TimeUnit.SECONDS), console);
                assertEquals(0, shell.exitValue(), console);
            }
            assertTrue(console.contains("|io.parley.type.emoji (") && console.contains("|io.parley.config.guard ("),
                    console);
            assertTrue(console.matches("(?s).*\\nalice +console-laptop +tcp +127\\.0\\.0\\.1:\\d+ .*"),
                    "parley:sessions lists the logged-in user:\n" + console);
            assertTrue(console.matches("(?s).*\\nusers\\.online +[1-9].*") && console.contains("\nsessions.tcp "),
                    "parley:stats:\n" + console);
            assertTrue(console.matches("(?s).*ACTIVE +system +io\\.parley\\.admin .*")
                    && console.matches("(?s).*ACTIVE +deploy +io\\.parley\\.type\\.emoji .*"),
                    "parley:bundles tells deploy/ from system/:\n" + console);
            assertTrue(console.matches("(?s).*\\nmessage +emoji +io\\.parley\\.type\\.emoji .*"), "parley:types:\n" + console);
            assertTrue(console.matches("(?s).*\\nmessage +\\S+ +yes +writable .*"), "parley:stores:\n" + console);
            assertTrue(console.contains("gogo: IllegalArgumentException: SYSTEM_BUNDLE: io.parley.core is a system bundle"),
                    "a refusal is one line:\n" + console);
            assertTrue(console.contains("gogo: IllegalArgumentException: INVALID_BUNDLE: no such file: "), console);
            assertTrue(console.contains("kicked 1 session(s) of alice on console-laptop"), console);
            assertFalse(console.contains("\tat "), "no stack trace:\n" + console);
            assertFalse(console.contains("InterruptedException"), console);
            assertEquals(0, parley(build, instance, "status").exit(), "the server runs on after the console");
        } finally {
            parley(build, instance, "stop");
        }
    }

    /** A hello with {@code token} succeeds and the texts of d:alice:bob, read as bob, are returned. */
    private static List<String> texts(String bobToken) throws Exception {
        try (RawConnection probe = new RawConnection("127.0.0.1", TCP)) {
            probe.send(Frame.newBuilder().setRequestId(1).setHello(Hello.newBuilder().setProtocolVersion(1)
                    .setToken(bobToken).setDeviceId("probe")).build());
            Frame reply = probe.read();
            assertTrue(reply.hasHelloOk(), "a token minted before the rebuild logs in: " + reply);
        }
        try (ParleyClient bob = client(bobToken, "phone")) {
            return bob.syncRange("d:alice:bob", 1, 0, 100).get(10, TimeUnit.SECONDS).getMessagesList().stream()
                    .filter(m -> Bodies.isText(m.getBody())).map(Bodies::textOf).toList();
        }
    }

    private static ParleyClient client(String token, String device) throws Exception {
        ParleyClient c = ParleyClient.builder().host("127.0.0.1").port(TCP).deviceId(device).token(token).build();
        c.connect().get(30, TimeUnit.SECONDS);
        return c;
    }

    private static String secret(Path instance) throws IOException {
        return Files.readAllLines(instance.resolve("conf/parley.auth.jwt.cfg")).stream()
                .filter(l -> l.matches("^\\s*secret\\s*[=:].*")).map(l -> l.replaceFirst("^\\s*secret\\s*[=:]\\s*", ""))
                .findFirst().orElse("");
    }

    private static void copyBuild(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(d).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES);
                return FileVisitResult.CONTINUE;
            }
        });
        to.resolve("bin/parley").toFile().setExecutable(true);
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
