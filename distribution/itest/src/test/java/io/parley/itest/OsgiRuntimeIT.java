package io.parley.itest;

import io.parley.auth.jwt.JwtTokens;
import io.parley.client.Bodies;
import io.parley.client.ParleyClient;
import io.parley.client.ParleyClientException;
import io.parley.client.Recalls;
import io.parley.core.api.Ids;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import io.parley.core.spi.store.MessageStore;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import io.parley.core.spi.delivery.Notification;
import io.parley.core.spi.message.MessageProcessor;
import io.parley.core.spi.command.CommandHandler;
import io.parley.core.spi.intercept.SendInterceptor;
import io.parley.core.spi.intercept.Verdict;
import io.parley.core.proto.CommandResult;
import io.parley.core.spi.message.ProcessResult;
import io.parley.core.spi.delivery.NotificationDispatcher;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

import javax.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.io.File;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.parley.itest.ParleyExam.SECRET;
import static io.parley.itest.ParleyExam.tokens;
import static io.parley.itest.ParleyExam.update;
import static io.parley.itest.ParleyExam.waitForPort;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.bundle;

/**
 * The real bundles in a real Felix: core, TCP transport, text type, the memory store, JWT auth, and the client SDK
 * (used from inside the framework, over real TCP sockets).
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class OsgiRuntimeIT {
    static final String COMPAT_EMOJI = "src/test/resources/compat/parley-type-emoji-built-against-spi-message-1.0.jar";

    @Inject
    private BundleContext context;

    private final List<ParleyClient> clients = new ArrayList<>();
    private final List<ServiceTracker<?, ?>> trackers = new ArrayList<>();
    private int port;

    @Configuration
    public Option[] config() {
        // a message-type bundle as built against io.parley.core.spi.message 1.0 (the first SPI of its own): it must
        // keep resolving and working while the other SPIs (store, transport, …) change
        return ParleyExam.options(bundle(new File(COMPAT_EMOJI).toURI().toString()));
    }

    @Before
    public void configure() throws Exception {
        Path portFile = Files.createTempFile("parley-itest-port", ".txt");
        Files.delete(portFile);
        ConfigurationAdmin cm = service(ConfigurationAdmin.class);
        update(cm, "parley.auth.jwt", "secret", SECRET, "issuer", "parley");
        update(cm, "parley.core", "store.target", "(parley.store.name=memory)", "hold.millis", "3000");
        update(cm, "parley.transport.websocket", "host", "127.0.0.1", "port", "0");
        update(cm, "parley.transport.http", "host", "127.0.0.1", "port", "0");
        org.osgi.service.cm.Configuration tcp = cm.getConfiguration("parley.transport.tcp", "?");
        if (tcp.getProperties() == null || !"0".equals(String.valueOf(tcp.getProperties().get("port")))) {
            update(cm, "parley.transport.tcp", "host", "127.0.0.1", "port", "0", "port.file", portFile.toString(),
                    "handshake.timeout.seconds", "2");
        } else {
            portFile = Path.of(String.valueOf(tcp.getProperties().get("port.file")));
        }
        ParleyExam.startTransports(context);
        port = waitForPort(portFile);
        waitForText();
    }

    @After
    public void closeClients() {
        clients.forEach(ParleyClient::close);
        trackers.forEach(ServiceTracker::close);
    }

    @Test
    public void everyBundleIsActive() {
        for (Bundle b : context.getBundles()) {
            boolean fragment = b.getHeaders().get("Fragment-Host") != null;
            int expected = fragment ? Bundle.RESOLVED : Bundle.ACTIVE;
            assertEquals(b.getSymbolicName() + " state", expected, b.getState());
        }
    }

    @Test
    public void twoClientsExchangeTextWithAcksAndSeq() throws Exception {
        LinkedBlockingQueue<Message> aliceInbox = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient alice = client("alice", "a1", aliceInbox);
        ParleyClient bob = client("bob", "b1", bobInbox);

        SendAck first = alice.sendText("bob", "hello bob").get(10, TimeUnit.SECONDS);
        assertEquals(Ids.direct("alice", "bob"), first.getConversation());
        Message got = bobInbox.poll(10, TimeUnit.SECONDS);
        assertNotNull("bob got nothing", got);
        assertEquals("alice", got.getSender());
        assertEquals(first.getSeq(), got.getSeq());
        assertEquals(first.getMessageId(), got.getId());
        assertEquals("hello bob", Bodies.textOf(got));

        SendAck reply = bob.sendText("alice", "hi alice").get(10, TimeUnit.SECONDS);
        assertEquals(first.getSeq() + 1, reply.getSeq());
        Message back = aliceInbox.poll(10, TimeUnit.SECONDS);
        assertNotNull("alice got nothing", back);
        assertEquals("hi alice", Bodies.textOf(back));
        assertEquals(reply.getSeq(), back.getSeq());
        assertTrue("the sender's own device gets no delivery of its own send", aliceInbox.isEmpty());
    }

    @Test
    public void stoppingTheTextBundleRefusesTextAndStartingItRestoresIt() throws Exception {
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient carol = client("carol", "c1", new LinkedBlockingQueue<>());
        client("dave", "d1", inbox);
        String conversation = Ids.direct("carol", "dave");
        long before = carol.sendText("dave", "before").get(10, TimeUnit.SECONDS).getSeq();
        MessageStore store = service(MessageStore.class);

        Bundle text = bundleNamed("io.parley.type.text");
        text.stop();
        try {
            ExecutionException e = expectFailure(carol.sendText("dave", "while stopped"));
            assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, ((ParleyClientException) e.getCause()).code());
            assertEquals("nothing stored", before, store.head(conversation));
        } finally {
            text.start();
        }
        waitForText();
        SendAck after = carol.sendText("dave", "after").get(10, TimeUnit.SECONDS);
        assertEquals("no seq gap", before + 1, after.getSeq());
        List<String> received = new ArrayList<>();
        while (received.size() < 2) {
            Message m = inbox.poll(10, TimeUnit.SECONDS);
            assertNotNull("dave is missing messages: " + received, m);
            received.add(Bodies.textOf(m));
        }
        assertEquals(List.of("before", "after"), received);
    }

    @Test
    public void unknownTypeIsRefusedAndNothingIsStored() throws Exception {
        ParleyClient erin = client("erin", "e1", new LinkedBlockingQueue<>());
        long head = service(MessageStore.class).head(Ids.direct("erin", "frank"));
        ExecutionException e = expectFailure(erin.send("frank", "no-such-type", Bodies.text("x")));
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, ((ParleyClientException) e.getCause()).code());
        assertEquals(head, service(MessageStore.class).head(Ids.direct("erin", "frank")));
    }

    @Test
    public void badInputGetsErrorsAndTheServerKeepsServing() throws Exception {
        JwtTokens tokens = tokens();
        BadInputChecks.run("127.0.0.1", port, tokens, SECRET);
        // and a well-behaved client is still served
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient gina = client("gina", "g1", new LinkedBlockingQueue<>());
        client("hank", "h1", inbox);
        gina.sendText("hank", "still here").get(10, TimeUnit.SECONDS);
        Message m = inbox.poll(10, TimeUnit.SECONDS);
        assertNotNull(m);
        assertEquals("still here", Bodies.textOf(m));
    }

    @Test
    public void aTypeBundleBuiltAgainstTheFirstMessageSpiStillResolvesAndWorks() throws Exception {
        Bundle emoji = bundleNamed("io.parley.type.emoji");
        assertEquals("resolved and started", Bundle.ACTIVE, emoji.getState());
        LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
        ParleyClient ivy = client("compat-ivy", "d1", new LinkedBlockingQueue<>());
        client("compat-jon", "d1", inbox);
        // parley.emoji.v1.Emoji{emoji = "👍"}: field 1, length-delimited
        byte[] thumbs = "\uD83D\uDC4D".getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(0x0A);
        body.write(thumbs.length);
        body.write(thumbs);
        Any emojiBody = Any.newBuilder().setTypeUrl("type.googleapis.com/parley.emoji.v1.Emoji")
                .setValue(ByteString.copyFrom(body.toByteArray())).build();
        assertEquals(1, ivy.send("compat-jon", "emoji", emojiBody).get(10, TimeUnit.SECONDS).getSeq());
        Message got = inbox.poll(10, TimeUnit.SECONDS);
        assertNotNull(got);
        assertEquals("emoji", got.getType());
    }

    @Test
    public void aCommandHandlerActsThroughTheFacadeAndIsRemovedCleanly() throws Exception {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(CommandHandler.TYPE, "itest.announce");
        // appends an announcement (the payload's text names the conversation) and answers with its seq
        ServiceRegistration<CommandHandler> registration = context.registerService(CommandHandler.class,
                (ctx, payload) -> ctx.appendEvent(Bodies.textOf(payload), "itest.announcement",
                                Bodies.text("announced by " + ctx.userId()))
                        .thenApply(m -> Bodies.text("seq " + m.getSeq())), props);
        String conversation = "d:cmd-a:cmd-b";
        LinkedBlockingQueue<Message> bInbox = new LinkedBlockingQueue<>();
        ParleyClient a = client("cmd-a", "d1", new LinkedBlockingQueue<>());
        client("cmd-b", "d1", bInbox);
        ParleyClient c = client("cmd-c", "d1", new LinkedBlockingQueue<>());
        try {
            CommandResult result = a.command("itest.announce", Bodies.text(conversation), "k1").get(10, TimeUnit.SECONDS);
            assertEquals("itest.announce", result.getType());
            assertEquals("seq 1", Bodies.textOf(result.getPayload()));
            Message event = bInbox.poll(10, TimeUnit.SECONDS);
            assertNotNull(event);
            assertEquals("itest.announcement", event.getType());
            assertEquals(1, event.getSeq());
            assertEquals("cmd-a", event.getSender());
            // the same client_request_id: stored once, the same answer
            assertEquals("seq 1", Bodies.textOf(a.command("itest.announce", Bodies.text(conversation), "k1")
                    .get(10, TimeUnit.SECONDS).getPayload()));
            // the facade authorizes: a non-member cannot append to another pair's conversation
            ExecutionException refused = expectFailure(c.command("itest.announce", Bodies.text(conversation), null));
            assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, ((ParleyClientException) refused.getCause()).code());
            ExecutionException unknown = expectFailure(a.command("itest.nothing", Any.getDefaultInstance(), null));
            assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND, ((ParleyClientException) unknown.getCause()).code());
        } finally {
            registration.unregister();
        }
        ExecutionException gone = expectFailure(a.command("itest.announce", Bodies.text(conversation), "k2"));
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND, ((ParleyClientException) gone.getCause()).code());
        assertEquals("nothing but the one announcement was stored", 1, a.syncRange(conversation, 1, 0, 10)
                .get(10, TimeUnit.SECONDS).getMessagesCount());
    }

    @Test
    public void aRecallCommandTombstonesInPlaceOnlyForTheSender() throws Exception {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(CommandHandler.TYPE, "itest.recall");
        String conversation = "d:rec-a:rec-b";
        // payload: the seq to recall, as text
        ServerRegistrationHolder holder = new ServerRegistrationHolder(context.registerService(CommandHandler.class,
                (ctx, payload) -> {
                    long seq = Long.parseLong(Bodies.textOf(payload));
                    return ctx.replace(conversation, seq, "recalled", Any.getDefaultInstance())
                            .thenCompose(m -> ctx.appendEvent(conversation, "itest.recalled", Bodies.text("" + seq)))
                            .thenApply(event -> Bodies.text("event " + event.getSeq()));
                }, props));
        try {
            LinkedBlockingQueue<Message> bInbox = new LinkedBlockingQueue<>();
            ParleyClient a = client("rec-a", "d1", new LinkedBlockingQueue<>());
            ParleyClient b = client("rec-b", "d1", bInbox);
            assertEquals(1, a.sendText("rec-b", "oops, wrong chat").get(10, TimeUnit.SECONDS).getSeq());
            assertNotNull(bInbox.poll(10, TimeUnit.SECONDS));
            ExecutionException notYours = expectFailure(b.command("itest.recall", Bodies.text("1"), null));
            assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, ((ParleyClientException) notYours.getCause()).code());
            ExecutionException missing = expectFailure(a.command("itest.recall", Bodies.text("9"), null));
            assertEquals(ErrorCode.ERROR_CODE_NOT_FOUND, ((ParleyClientException) missing.getCause()).code());
            assertEquals("event 2", Bodies.textOf(a.command("itest.recall", Bodies.text("1"), "recall-1")
                    .get(10, TimeUnit.SECONDS).getPayload()));
            Message event = bInbox.poll(10, TimeUnit.SECONDS);
            assertNotNull("the other side hears of the recall", event);
            assertEquals("itest.recalled", event.getType());
            List<Message> history = a.syncRange(conversation, 1, 0, 10).get(10, TimeUnit.SECONDS).getMessagesList();
            assertEquals(2, history.size());
            assertEquals("recalled", history.get(0).getType());
            assertEquals(1, history.get(0).getSeq());
            assertEquals("rec-a", history.get(0).getSender());
            assertEquals("the text is gone from the store", Any.getDefaultInstance(), history.get(0).getBody());
        } finally {
            holder.registration.unregister();
        }
    }

    private record ServerRegistrationHolder(ServiceRegistration<CommandHandler> registration) {
    }

    @Test
    public void theRecallBundleRecallsThroughTheSdkAndIsSwappedWithoutRefusingACommand() throws Exception {
        Bundle bundle = bundleNamed("io.parley.command.recall");
        waitForCommand("recall", true);
        String conversation = Ids.direct("rcl-ann", "rcl-ben");
        LinkedBlockingQueue<Message> annInbox = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<Message> benInbox = new LinkedBlockingQueue<>();
        ParleyClient ann = client("rcl-ann", "d1", annInbox);
        ParleyClient ben = client("rcl-ben", "d1", benInbox);
        SendAck oops = ann.sendText("rcl-ben", "wrong chat, sorry").get(10, TimeUnit.SECONDS);
        assertEquals("wrong chat, sorry", Bodies.textOf(benInbox.poll(10, TimeUnit.SECONDS)));

        // the SDK's recall, served by the real bundle
        Recalls.Recall recall = ann.recall(conversation, oops.getSeq()).get(10, TimeUnit.SECONDS);
        assertEquals(new Recalls.Recall(conversation, oops.getSeq(), "rcl-ann", recall.recalledAt(), oops.getSeq() + 1),
                recall);
        for (LinkedBlockingQueue<Message> inbox : List.of(benInbox, annInbox)) {
            Message event = inbox.poll(10, TimeUnit.SECONDS);
            assertNotNull("every device of every member gets the event, the recalling one included", event);
            assertTrue(event.toString(), Recalls.isEvent(event));
            assertEquals(java.util.Optional.of(recall), Recalls.of(event));
        }
        Message tombstone = ben.syncRange(conversation, oops.getSeq(), oops.getSeq(), 1).get(10, TimeUnit.SECONDS)
                .getMessages(0);
        assertTrue(Recalls.isTombstone(tombstone));
        assertEquals(java.util.Optional.of(recall), Recalls.of(tombstone));
        ExecutionException notHis = expectFailure(ben.recall(conversation, oops.getSeq()));
        assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, ((ParleyClientException) notHis.getCause()).code());

        // its configuration (PID parley.command.recall) applies without a restart: a window of 0 stops senders
        ConfigurationAdmin cm = service(ConfigurationAdmin.class);
        long second = ann.sendText("rcl-ben", "second").get(10, TimeUnit.SECONDS).getSeq();
        update(cm, "parley.command.recall", "window.seconds", "0");
        try {
            // DS hands the component the new configuration, then shows it in the service's properties
            waitForHandlers("(&(" + CommandHandler.TYPE + "=recall)(window.seconds=0))", true);
            ExecutionException closed = expectFailure(ann.recall(conversation, second));
            assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, ((ParleyClientException) closed.getCause()).code());
            assertTrue(closed.getCause().getMessage(), closed.getCause().getMessage().contains("does not let senders"));
        } finally {
            cm.getConfiguration("parley.command.recall", "?").delete();
        }
        waitForHandlers("(&(" + CommandHandler.TYPE + "=recall)(window.seconds=120))", true);

        // stopped: no handler; started again: served
        bundle.stop();
        waitForCommand("recall", false);
        ExecutionException stopped = expectFailure(ann.recall(conversation, second));
        assertEquals(ErrorCode.ERROR_CODE_UNSUPPORTED_COMMAND, ((ParleyClientException) stopped.getCause()).code());
        bundle.start();
        waitForCommand("recall", true);
        assertEquals(second, ann.recall(conversation, second).get(10, TimeUnit.SECONDS).seq());

        // updated (a new revision, then a refresh: what FileInstall does) while recalls keep coming: held, then served
        List<Long> seqs = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            seqs.add(ann.sendText("rcl-ben", "m" + i).get(10, TimeUnit.SECONDS).getSeq());
        }
        // the gap between the old revision's handler leaving and the new one's arriving, widened to 150 ms (a slow
        // update; under the core's 250 ms stop grace) so that recalls certainly arrive while no handler is there
        long[] gap = new long[2];
        org.osgi.framework.SynchronousBundleListener slowUpdate = event -> {
            if (event.getBundle().equals(bundle) && event.getType() == org.osgi.framework.BundleEvent.STOPPED
                    && gap[0] == 0) {
                gap[0] = System.nanoTime();
                try {
                    Thread.sleep(150);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        org.osgi.framework.ServiceListener back = event -> {
            if (event.getType() == org.osgi.framework.ServiceEvent.REGISTERED && gap[0] != 0 && gap[1] == 0) {
                gap[1] = System.nanoTime();
            }
        };
        context.addBundleListener(slowUpdate);
        context.addServiceListener(back, "(" + CommandHandler.TYPE + "=recall)");
        List<Long> issued = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(8);
        List<CompletableFuture<Recalls.Recall>> recalls = new ArrayList<>();
        CompletableFuture<Void> swapped = null;
        for (int i = 0; i < seqs.size(); i++) {
            if (i == 20) {
                swapped = CompletableFuture.runAsync(() -> {
                    try {
                        bundle.update();
                        org.osgi.framework.wiring.FrameworkWiring wiring =
                                context.getBundle(0).adapt(org.osgi.framework.wiring.FrameworkWiring.class);
                        CompletableFuture<Void> refreshed = new CompletableFuture<>();
                        wiring.refreshBundles(List.of(bundle), event -> refreshed.complete(null));
                        refreshed.get(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
            }
            window.acquire();
            issued.add(System.nanoTime());
            CompletableFuture<Recalls.Recall> f = ann.recall(conversation, seqs.get(i));
            f.whenComplete((r, e) -> window.release());
            recalls.add(f);
            Thread.sleep(5);
        }
        swapped.get(20, TimeUnit.SECONDS);
        context.removeBundleListener(slowUpdate);
        context.removeServiceListener(back);
        int refused = 0;
        for (CompletableFuture<Recalls.Recall> f : recalls) {
            try {
                f.get(20, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                refused++;
                System.out.println("[recall] refused during the update: " + e.getCause());
            }
        }
        assertEquals("recalls held during the update and served by the new revision", 0, refused);
        assertEquals(Bundle.ACTIVE, bundle.getState());
        assertTrue("the handler left and came back during the update", gap[0] != 0 && gap[1] > gap[0]);
        long duringTheGap = issued.stream().filter(t -> t > gap[0] && t < gap[1]).count();
        System.out.println("[recall] " + recalls.size() + " recalls, " + duringTheGap + " sent while no handler was "
                + "registered (" + TimeUnit.NANOSECONDS.toMillis(gap[1] - gap[0]) + " ms), none refused");
        assertTrue("recalls were sent while the bundle was being updated", duringTheGap > 0);
        for (Message m : ben.syncRange(conversation, seqs.get(0), seqs.get(seqs.size() - 1), 0)
                .get(10, TimeUnit.SECONDS).getMessagesList()) {
            assertTrue("recalled: " + m, Recalls.isTombstone(m));
        }
    }

    /** Waits until a handler for {@code type} is registered ({@code present}) or gone. */
    private void waitForCommand(String type, boolean present) throws Exception {
        waitForHandlers("(" + CommandHandler.TYPE + "=" + type + ")", present);
    }

    /** Waits until a command handler matching {@code filter} is registered ({@code present}) or none is. */
    private void waitForHandlers(String filter, boolean present) throws Exception {
        ParleyExam.waitForServices(context, CommandHandler.class, filter, present);
    }

    @Test
    public void sendInterceptorsVetoRewriteAndTimeOutByTheirPolicy() throws Exception {
        List<ServiceRegistration<?>> registrations = new ArrayList<>();
        try {
            // highest ranking first: the rewrite is seen by the veto check after it
            registrations.add(interceptor("rewrite", 10, 200, false, m -> CompletableFuture.completedFuture(
                    Bodies.textOf(m.getBody()).contains("darn")
                            ? Verdict.rewrite(Bodies.text(Bodies.textOf(m.getBody()).replace("darn", "****")),
                            java.util.Map.of("moderated", "true"))
                            : Verdict.pass())));
            registrations.add(interceptor("veto", 5, 200, false, m -> CompletableFuture.completedFuture(
                    Bodies.textOf(m.getBody()).contains("spam")
                            ? Verdict.veto(ErrorCode.ERROR_CODE_FORBIDDEN, "looks like spam") : Verdict.pass())));
            LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
            ParleyClient kim = client("icpt-kim", "d1", new LinkedBlockingQueue<>());
            client("icpt-lee", "d1", inbox);

            ExecutionException vetoed = expectFailure(kim.sendText("icpt-lee", "buy spam now"));
            assertEquals(ErrorCode.ERROR_CODE_FORBIDDEN, ((ParleyClientException) vetoed.getCause()).code());
            assertEquals(1, kim.sendText("icpt-lee", "oh darn").get(10, TimeUnit.SECONDS).getSeq());
            Message rewritten = inbox.poll(10, TimeUnit.SECONDS);
            assertNotNull(rewritten);
            assertEquals("oh ****", Bodies.textOf(rewritten));
            assertEquals("true", rewritten.getExtMap().get("moderated"));
            assertEquals("icpt-kim", rewritten.getSender());

            // a slow interceptor: fail-open lets the send through after its budget, fail-closed refuses it
            CompletableFuture<Verdict> never = new CompletableFuture<>();
            ServiceRegistration<?> slowOpen = interceptor("slow-open", 1, 100, false, m -> never);
            registrations.add(slowOpen);
            long t0 = System.nanoTime();
            assertEquals(2, kim.sendText("icpt-lee", "waits 100 ms").get(10, TimeUnit.SECONDS).getSeq());
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(100));
            slowOpen.unregister();
            registrations.remove(slowOpen);
            registrations.add(interceptor("slow-closed", 1, 100, true, m -> never));
            ExecutionException closed = expectFailure(kim.sendText("icpt-lee", "refused"));
            ParleyClientException unavailable = (ParleyClientException) closed.getCause();
            assertEquals(ErrorCode.ERROR_CODE_UNAVAILABLE, unavailable.code());
            assertTrue(unavailable.retryable());
            assertEquals("vetoed and refused sends were never stored", 2, kim.syncRange("d:icpt-kim:icpt-lee", 1, 0, 10)
                    .get(10, TimeUnit.SECONDS).getMessagesCount());
        } finally {
            registrations.forEach(ServiceRegistration::unregister);
        }
    }

    private ServiceRegistration<SendInterceptor> interceptor(String name, int ranking, int budgetMillis,
                                                             boolean failClosed, SendInterceptor interceptor) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(SendInterceptor.NAME, name);
        props.put(org.osgi.framework.Constants.SERVICE_RANKING, ranking);
        props.put(SendInterceptor.TIMEOUT_MILLIS, budgetMillis);
        props.put(SendInterceptor.ON_FAILURE, failClosed ? SendInterceptor.FAIL_CLOSED : SendInterceptor.FAIL_OPEN);
        return context.registerService(SendInterceptor.class, interceptor, props);
    }

    @Test
    public void aRelayTypeIsDeliveredToOnlineDevicesAndNeverStored() throws Exception {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(MessageProcessor.TYPE, "itest.signal");
        ServiceRegistration<MessageProcessor> registration = context.registerService(MessageProcessor.class,
                (ctx, draft) -> CompletableFuture.completedFuture(ProcessResult.relay(draft)), props);
        try {
            LinkedBlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
            ParleyClient alice = client("relay-alice", "a1", new LinkedBlockingQueue<>());
            client("relay-bob", "b1", bobInbox);
            SendAck ack = alice.send("relay-bob", "itest.signal", Bodies.text("ring")).get(10, TimeUnit.SECONDS);
            assertEquals("relayed: no seq", 0, ack.getSeq());
            Message got = bobInbox.poll(10, TimeUnit.SECONDS);
            assertNotNull("the online device gets it", got);
            assertEquals("itest.signal", got.getType());
            assertEquals(0, got.getSeq());
            assertEquals("ring", Bodies.textOf(got));
            // nothing stored: no history, and a device that connects later gets nothing
            assertEquals(0, alice.syncRange("d:relay-alice:relay-bob", 1, 0, 10).get(10, TimeUnit.SECONDS)
                    .getMessagesCount());
            LinkedBlockingQueue<Message> later = new LinkedBlockingQueue<>();
            client("relay-bob", "b2", later);
            assertEquals(null, later.poll(500, TimeUnit.MILLISECONDS));
        } finally {
            registration.unregister();
        }
    }

    @Test
    public void aNotificationDispatcherIsCalledOncePerMessageAndASlowOneNeverDelaysAcks() throws Exception {
        LinkedBlockingQueue<Notification> seen = new LinkedBlockingQueue<>();
        CompletableFuture<Void> never = new CompletableFuture<>(); // a channel that takes forever
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(NotificationDispatcher.CHANNEL, "itest-slow");
        ServiceRegistration<NotificationDispatcher> registration = context.registerService(NotificationDispatcher.class,
                notification -> {
                    seen.add(notification);
                    return never;
                }, props);
        try {
            ParleyClient owner = client("fan-owner", "d1", new LinkedBlockingQueue<>());
            List<String> members = new ArrayList<>();
            for (int i = 0; i < 999; i++) {
                members.add("fan-m" + i);
            }
            String groupId = owner.createGroup("fan-out", members).get(30, TimeUnit.SECONDS).getId();
            for (int i = 0; i < 24; i++) {
                // the channel holds 16 dispatches forever (its concurrency) and queues the rest: acks are not delayed
                owner.sendTextToGroup(groupId, "m" + i).get(5, TimeUnit.SECONDS);
            }
            Notification first = seen.poll(10, TimeUnit.SECONDS);
            assertNotNull(first);
            assertEquals("m0", Bodies.textOf(first.message()));
            assertEquals(999, first.recipients().size());
            assertFalse(first.recipients().contains("fan-owner"));
            assertTrue("offline scope: nobody listed as online", first.online().isEmpty());
            assertEquals("m0", first.preview());
            Thread.sleep(300);
            assertEquals("one call per message (16 in flight), not one per recipient", 15, seen.size());
        } finally {
            registration.unregister();
            never.complete(null);
        }
    }

    // ---------------------------------------------------------------- helpers

    private ParleyClient client(String user, String device, LinkedBlockingQueue<Message> inbox) throws Exception {
        return ParleyExam.client(clients, port, user, device, inbox::add);
    }

    private static ExecutionException expectFailure(CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
            fail("expected the send to fail");
            return null;
        } catch (ExecutionException e) {
            assertTrue("expected a ParleyClientException, got " + e.getCause(), e.getCause() instanceof ParleyClientException);
            return e;
        }
    }

    private Bundle bundleNamed(String bsn) {
        for (Bundle b : context.getBundles()) {
            if (bsn.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("no bundle " + bsn);
    }

    /** The service, tracked until the end of the test (closing a tracker invalidates service-factory objects). */
    private <T> T service(Class<T> type) throws InterruptedException {
        return ParleyExam.service(context, trackers, type);
    }

    /** Waits until a text processor is registered (the text bundle started and SCR activated it). */
    private void waitForText() throws Exception {
        ParleyExam.waitForServices(context, MessageProcessor.class, "(" + MessageProcessor.TYPE + "=text)", true);
    }
}
