package io.parley.itest;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.parley.calls.proto.CallEvent;
import io.parley.calls.proto.CallJoined;
import io.parley.calls.proto.CallStarted;
import io.parley.calls.proto.Kind;
import io.parley.calls.proto.Media;
import io.parley.calls.proto.Participant;
import io.parley.calls.proto.Signal;
import io.parley.calls.proto.State;
import io.parley.client.CallEvents;
import io.parley.client.CallListener;
import io.parley.client.ParleyClient;
import io.parley.client.ParleyClientException;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Calls on the assembled server ({@code deploy/parley-calls.jar}, a 2-second ring timeout through
 * {@code conf/parley.calls.cfg}) with SDK clients over real TCP: a 1:1 call rung on both of the callee's devices,
 * answered on one, replaced by the other, signalled and ended; a missed call to an offline callee, pushed (the push
 * bundle from extras/, its FCM endpoint a local HTTP server) and found on resume; a group call of three whose joiner
 * offers to both others while a fourth member's device receives no signal.
 */
class CallFlowIT {
    @TempDir
    static Path work;
    static ServerProcess server;
    static HttpServer fcm;
    static final LinkedBlockingQueue<String> pushes = new LinkedBlockingQueue<>();
    static final List<ParleyClient> clients = new ArrayList<>();

    /** One device: its client, and the call events and signals it received, in arrival order. */
    record Device(ParleyClient client, String user, String device, LinkedBlockingQueue<CallEvent> events,
                  LinkedBlockingQueue<Signal> signals) {
        CallEvent await(String callId, State state) throws InterruptedException {
            return next(events, e -> e.getCallId().equals(callId) && e.getState() == state, callId + " " + state);
        }

        Signal signal(Kind kind) throws InterruptedException {
            return next(signals, s -> s.getKind() == kind, kind.name());
        }

        private static <T> T next(LinkedBlockingQueue<T> queue, Predicate<T> match, String what)
                throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            List<T> skipped = new ArrayList<>();
            try {
                while (System.nanoTime() < deadline) {
                    T t = queue.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    if (t != null && match.test(t)) {
                        return t;
                    }
                    if (t != null) {
                        skipped.add(t);
                    }
                }
                throw new AssertionError("no " + what + " within 15 s; got " + skipped);
            } finally {
                // keep what was passed over for later awaits, in order
                List<T> rest = new ArrayList<>(queue);
                queue.clear();
                queue.addAll(skipped);
                queue.addAll(rest);
            }
        }
    }

    @BeforeAll
    static void start() throws Exception {
        fcm = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        fcm.createContext("/v1/projects/calls/messages:send", CallFlowIT::recordPush);
        fcm.start();
        server = new ServerProcess(work);
        Files.copy(server.home.resolve("extras/parley-push.jar"), server.home.resolve("deploy/parley-push.jar"),
                StandardCopyOption.REPLACE_EXISTING);
        Path push = server.home.resolve("conf/parley.push.cfg");
        ServerProcess.setKey(push, "fcm.endpoint", "http://127.0.0.1:" + fcm.getAddress().getPort());
        ServerProcess.setKey(push, "fcm.project", "calls");
        ServerProcess.setKey(push, "fcm.credential", "calls-credential");
        Path calls = server.home.resolve("conf/parley.calls.cfg");
        ServerProcess.setKey(calls, "ring.timeout.seconds", "2");
        ServerProcess.setKey(calls, "leave.grace.seconds", "2");
        server.start();
    }

    @AfterAll
    static void stop() throws Exception {
        clients.forEach(ParleyClient::close);
        if (server != null) {
            server.close();
        }
        if (fcm != null) {
            fcm.stop(0);
        }
    }

    private static void recordPush(HttpExchange ex) throws IOException {
        pushes.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
        byte[] answer = "{\"name\":\"m1\"}".getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, answer.length);
        ex.getResponseBody().write(answer);
        ex.close();
    }

    static Device device(String user, String device) throws Exception {
        LinkedBlockingQueue<CallEvent> events = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<Signal> signals = new LinkedBlockingQueue<>();
        ParleyClient c = server.clientBuilder(user, device, server.port).build();
        c.calls().addListener(new CallListener() {
            @Override
            public void onCallEvent(Message message, CallEvent event) {
                events.add(event);
            }

            @Override
            public void onSignal(Message message, Signal signal) {
                signals.add(signal);
            }
        });
        clients.add(c);
        c.connect().get(15, TimeUnit.SECONDS);
        return new Device(c, user, device, events, signals);
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(15, TimeUnit.SECONDS);
    }

    static ParleyClientException refusal(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(15, TimeUnit.SECONDS));
        return assertInstanceOf(ParleyClientException.class, e.getCause());
    }

    /** The bundle starts with the server; a call may come a moment before it registered its commands. */
    static CallStarted startWhenReady(Device caller, String peer, Media media) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            try {
                return get(caller.client().calls().start(peer, media));
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof ParleyClientException p
                        && p.code() == ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    @Test
    void aOneToOneCallRingsEveryCalleeDeviceIsAnsweredOnOneReplacedByTheOtherAndEnds() throws Exception {
        Device alice = device("call-alice", "laptop");
        Device bobPhone = device("call-bob", "phone");
        Device bobTablet = device("call-bob", "tablet");

        CallStarted started = startWhenReady(alice, "call-bob", Media.VIDEO);
        assertFalse(started.getBusy());
        String id = started.getCallId();
        for (Device d : List.of(bobPhone, bobTablet)) {
            assertEquals(Media.VIDEO, d.await(id, State.RINGING).getMedia(), d + " rings");
        }

        CallJoined joined = get(bobPhone.client().calls().join(id));
        assertEquals(List.of(Participant.newBuilder().setUser("call-alice").setDevice("laptop").build()),
                joined.getParticipantsList());
        for (Device d : List.of(alice, bobPhone, bobTablet)) {
            CallEvent accepted = d.await(id, State.ACCEPTED);
            assertEquals("call-bob", accepted.getBy());
            assertTrue(CallEvents.stopsRinging(accepted, "call-bob"), "the tablet stops ringing");
        }
        // the joiner offers, the initiator answers, candidates both ways
        get(bobPhone.client().calls().signal(id, "call-alice", "laptop", Kind.OFFER, "v=0 offer", joined.getToken()));
        assertEquals("v=0 offer", alice.signal(Kind.OFFER).getData());
        get(alice.client().calls().signal(id, "call-bob", "phone", Kind.ANSWER, "v=0 answer", started.getToken()));
        assertEquals("v=0 answer", bobPhone.signal(Kind.ANSWER).getData());

        // the tablet joins as well: it replaces the phone, which is told with a BYE
        CallJoined tablet = get(bobTablet.client().calls().join(id));
        assertEquals(joined.getParticipantsList(), tablet.getParticipantsList());
        assertEquals("tablet", bobPhone.signal(Kind.BYE).getFromDevice());
        assertEquals("phone", alice.signal(Kind.BYE).getFromDevice());
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(bobPhone.client().calls().signal(id, "call-alice",
                "laptop", Kind.OFFER, "x", joined.getToken())).code());
        get(bobTablet.client().calls().signal(id, "call-alice", "laptop", Kind.OFFER, "v=0 again", tablet.getToken()));
        assertEquals("tablet", alice.signal(Kind.OFFER).getFromDevice());

        Thread.sleep(1100); // so the call lasts a measurable second
        assertEquals(State.ENDED, get(alice.client().calls().hangup(id)).getState());
        for (Device d : List.of(alice, bobPhone, bobTablet)) {
            CallEvent ended = d.await(id, State.ENDED);
            assertTrue(ended.getDurationMs() >= 1000, "duration " + ended.getDurationMs());
        }
        assertEquals(ErrorCode.ERROR_CODE_CONFLICT, refusal(bobPhone.client().calls().join(id)).code());
        // signals reached the addressed device only
        assertTrue(bobTablet.signals().isEmpty(), "the tablet got no signal meant for others: " + bobTablet.signals());
    }

    @Test
    void aMissedCallToAnOfflineCalleeIsPushedAndFoundOnResume() throws Exception {
        Device carol = device("miss-carol", "phone");
        get(carol.client().command("push.register", pushRegister("carol-phone-token"), "register-carol"));
        carol.client().close();
        pushes.clear();

        Device dan = device("miss-dan", "desk");
        CallStarted started = startWhenReady(dan, "miss-carol", Media.AUDIO);
        String id = started.getCallId();
        String ringPush = pushes.poll(15, TimeUnit.SECONDS);
        assertNotNull(ringPush, "carol's offline phone is pushed the incoming call");
        assertTrue(ringPush.contains("carol-phone-token") && ringPush.contains("Incoming call from miss-dan"),
                ringPush);

        CallEvent missed = dan.await(id, State.MISSED);
        assertEquals("nobody answered within 2 s", missed.getReason());
        String missedPush = pushes.poll(15, TimeUnit.SECONDS);
        assertNotNull(missedPush, "and the missed call");
        assertTrue(missedPush.contains("Missed call from miss-dan"), missedPush);

        // carol's phone comes back: the resume brings RINGING, then MISSED; the call can no longer be joined
        Device back = device("miss-carol", "phone");
        assertEquals(State.RINGING, back.await(id, State.RINGING).getState());
        assertEquals(State.MISSED, back.await(id, State.MISSED).getState());
        ParleyClientException expired = refusal(back.client().calls().join(id));
        assertEquals(ErrorCode.ERROR_CODE_CONFLICT, expired.code());
        assertTrue(expired.getMessage().contains("the call expired"), expired.getMessage());
    }

    @Test
    void aGroupCallOfThreeIsAMeshAndAFourthMemberSeesNoSignal() throws Exception {
        Device ann = device("mesh-ann", "a");
        Device ben = device("mesh-ben", "b");
        Device cat = device("mesh-cat", "c");
        Device dov = device("mesh-dov", "d");
        String conversation = get(ann.client().createGroup("mesh", List.of("mesh-ben", "mesh-cat", "mesh-dov")))
                .getConversation();
        // the bundle may still be starting: a first call waits for it; cancelled at once, it frees ann again
        String warmup = startWhenReady(ann, "mesh-dov", Media.AUDIO).getCallId();
        assertEquals(State.CANCELLED, get(ann.client().calls().hangup(warmup)).getState());

        CallStarted started = get(ann.client().calls().startIn(conversation, Media.VIDEO,
                List.of("mesh-ben", "mesh-cat")));
        String id = started.getCallId();
        assertEquals(List.of("mesh-ben", "mesh-cat"), dov.await(id, State.RINGING).getInvitedList());
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, refusal(dov.client().calls().join(id)).code());

        CallJoined benJoined = get(ben.client().calls().join(id));
        get(ben.client().calls().signal(id, "mesh-ann", "a", Kind.OFFER, "ben->ann", benJoined.getToken()));
        assertEquals("ben->ann", ann.signal(Kind.OFFER).getData());
        get(ann.client().calls().signal(id, "mesh-ben", "b", Kind.ANSWER, "ann->ben", started.getToken()));
        assertEquals("ann->ben", ben.signal(Kind.ANSWER).getData());

        CallJoined catJoined = get(cat.client().calls().join(id));
        assertEquals(List.of("mesh-ann", "mesh-ben"),
                catJoined.getParticipantsList().stream().map(Participant::getUser).toList(),
                "the joiner offers to both devices already in");
        for (Participant p : catJoined.getParticipantsList()) {
            get(cat.client().calls().signal(id, p.getUser(), p.getDevice(), Kind.OFFER, "cat->" + p.getUser(),
                    catJoined.getToken()));
        }
        assertEquals("cat->mesh-ann", ann.signal(Kind.OFFER).getData());
        assertEquals("cat->mesh-ben", ben.signal(Kind.OFFER).getData());
        get(ann.client().calls().signal(id, "mesh-cat", "c", Kind.ANSWER, "ann->cat", started.getToken()));
        get(ben.client().calls().signal(id, "mesh-cat", "c", Kind.ANSWER, "ben->cat", benJoined.getToken()));
        List<String> answers = new ArrayList<>(List.of(cat.signal(Kind.ANSWER).getData(),
                cat.signal(Kind.ANSWER).getData()));
        answers.sort(null);
        assertEquals(List.of("ann->cat", "ben->cat"), answers);

        get(ann.client().calls().hangup(id));
        get(ben.client().calls().hangup(id));
        CallEvent ended = dov.await(id, State.ENDED);
        assertEquals("mesh-ben", ended.getBy());
        assertTrue(dov.signals().isEmpty(), "a member outside the call receives no signal: " + dov.signals());
    }

    @Test
    void replacingTheCallBundleEndsItsLiveCallsAndLeavesNoTimerThreadBehind() throws Exception {
        Device eve = device("swap-eve", "laptop");
        Device fay = device("swap-fay", "phone");
        String id = startWhenReady(eve, "swap-fay", Media.AUDIO).getCallId();
        get(fay.client().calls().join(id));
        eve.await(id, State.ACCEPTED);

        Path v2 = DistributionHotSwapIT.rebuiltWithVersion(server.home.resolve("deploy/parley-calls.jar"),
                "0.1.1.swap", work.resolve("calls-v2.jar"));
        server.deploy(v2, "parley-calls.jar");
        for (Device d : List.of(eve, fay)) {
            CallEvent ended = d.await(id, State.ENDED);
            assertEquals("the call service stopped", ended.getReason());
        }
        // the new revision serves calls (commands are held while it starts), with one timer thread in all
        String next = startWhenReady(eve, "swap-fay", Media.VIDEO).getCallId();
        fay.await(next, State.RINGING);
        assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, refusal(fay.client().calls().join(id)).code(),
                "the old revision's calls are gone with it");
        get(eve.client().calls().hangup(next));
        assertEquals(1, timerThreads(), "the old revision's timer thread has ended");
    }

    @Test
    void theChatRingsAnswersPrintsSignalsAndHangsUp() throws Exception {
        Device gus = device("chat-gus", "laptop");
        String warmup = startWhenReady(gus, "chat-nobody", Media.AUDIO).getCallId(); // waits for the bundle
        get(gus.client().calls().hangup(warmup));
        Process chat = new ProcessBuilder(server.home.resolve("bin/parley").toString(), "chat", "--port",
                Integer.toString(server.port), "--device", "cli", "--token",
                server.tokens().mint("chat-hal", null, Duration.ofMinutes(10)))
                .directory(server.home.toFile()).redirectErrorStream(true).start();
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(
                    chat.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException ended) {
                // the process ended
            }
        }, "chat-reader");
        reader.start();
        try {
            java.io.OutputStream typing = chat.getOutputStream();
            await(lines, l -> l.startsWith("* connected as chat-hal"));
            CallStarted started = get(gus.client().calls().start("chat-hal", Media.VIDEO));
            String id = started.getCallId();
            await(lines, l -> l.matches("\\[d:chat-gus:chat-hal #\\d+] \\* 📞 chat-gus is calling \\(video\\) — "
                    + "/accept or /reject"));
            type(typing, "/accept");
            await(lines, l -> l.equals("✓ joined call " + id + " (video) with chat-gus/laptop — signalling only: "
                    + "this chat sends no media"));
            assertEquals("chat-hal", gus.await(id, State.ACCEPTED).getBy());

            get(gus.client().calls().signal(id, "chat-hal", "cli", Kind.OFFER, "v=0 from gus", started.getToken()));
            await(lines, l -> l.endsWith("chat-gus: 📶 OFFER from chat-gus/laptop (12 bytes)"));

            type(typing, "/hangup");
            await(lines, l -> l.equals("✓ hung up (ended)"));
            await(lines, l -> l.matches("\\[d:chat-gus:chat-hal #\\d+] \\* call ended 0:0\\d"));
            gus.await(id, State.ENDED);
            typing.close();
            assertTrue(chat.waitFor(30, TimeUnit.SECONDS), "the chat ends at the end of its input");
            assertEquals(0, chat.exitValue(), String.join("\n", lines));
        } finally {
            chat.destroyForcibly();
        }
    }

    private static void type(java.io.OutputStream typing, String line) throws IOException {
        typing.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        typing.flush();
    }

    private static String await(List<String> lines, Predicate<String> wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            for (String l : lines) {
                if (wanted.test(l)) {
                    return l;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the chat printed nothing matching within 20 s:\n" + String.join("\n", lines));
    }

    /** @return how many threads named {@code parley-calls-timer} the server JVM has ({@code jcmd Thread.print}) */
    static long timerThreads() throws Exception {
        Process jcmd = new ProcessBuilder("jcmd", Long.toString(server.pid()), "Thread.print")
                .redirectErrorStream(true).start();
        String dump = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(jcmd.waitFor(30, TimeUnit.SECONDS) && jcmd.exitValue() == 0, "jcmd failed: " + dump);
        return dump.lines().filter(l -> l.startsWith("\"parley-calls-timer\"")).count();
    }

    /** {@code parley.push.v1.Register{platform = "fcm", token}}, packed by hand (the push schema is not on this path). */
    static com.google.protobuf.Any pushRegister(String token) {
        com.google.protobuf.ByteString.Output out = com.google.protobuf.ByteString.newOutput();
        try {
            com.google.protobuf.CodedOutputStream o = com.google.protobuf.CodedOutputStream.newInstance(out);
            o.writeString(1, "fcm");
            o.writeString(2, token);
            o.flush();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return com.google.protobuf.Any.newBuilder().setTypeUrl("type.googleapis.com/parley.push.v1.Register")
                .setValue(out.toByteString()).build();
    }
}
