package io.parley.client.bench;

import io.parley.client.ClientResources;
import io.parley.client.Groups;
import io.parley.client.ParleyClient;
import io.parley.core.proto.GroupRequest;
import io.parley.core.proto.GroupResponse;
import io.parley.core.proto.Message;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Scenario {@code group-fanout}: N clients connect; the first creates one group with all of them (one Create,
 * then AddMembers, each request holding at most half the server's {@code max_frame_bytes} of member ids). Once every
 * member has received the last membership event (so no text reaches a client before it knows the group), the first
 * {@code senders} clients send fixed-size texts to the group, closed loop or at a total target rate, exactly like
 * {@code one-to-one} (see {@link MessageLoad}). Every member counts the texts it receives, so one message makes N-1
 * deliveries (a device does not receive its own sends); end-to-end latency is measured per delivery from the send
 * time written into the text.
 *
 * <p>One instance runs once, from one thread; the clients' callbacks run on their event loops.
 */
public final class GroupFanoutScenario {
    private static final long MEMBERSHIP_TIMEOUT_SECONDS = 60;

    private final BenchOptions options;
    private final TokenMinter minter;
    private final PrintStream log;
    private final int maxRequestIdBytes;

    public GroupFanoutScenario(BenchOptions options, TokenMinter minter, PrintStream log) {
        this(options, minter, log, 0);
    }

    /** @param maxRequestIdBytes member id bytes per group request; 0 = half the server's {@code max_frame_bytes} */
    GroupFanoutScenario(BenchOptions options, TokenMinter minter, PrintStream log, int maxRequestIdBytes) {
        this.options = options;
        this.minter = minter;
        this.log = log;
        this.maxRequestIdBytes = maxRequestIdBytes;
    }

    public BenchResult run() throws InterruptedException {
        int n = options.clients();
        List<String> users = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            users.add(MessageLoad.userId(options, i));
        }
        MessageLoad load = new MessageLoad(options, minter, log);
        // group conversation -> per member, the highest group.event seq it received there
        ConcurrentHashMap<String, AtomicLongArray> eventSeqs = new ConcurrentHashMap<>();
        ClientResources resources = BenchIo.resources(options.io(), options.threads());
        try {
            List<ParleyClient> clients = load.connect(users, resources, i -> (Message m) -> {
                if (Groups.isEvent(m)) {
                    eventSeqs.computeIfAbsent(m.getConversation(), c -> new AtomicLongArray(n))
                            .accumulateAndGet(i, m.getSeq(), Math::max);
                } else {
                    load.onDelivery(m);
                }
            });
            long t0 = System.nanoTime();
            GroupResponse created = createGroup(clients.get(0), users.subList(1, n));
            String conversation = created.getGroup().getConversation();
            awaitMembership(eventSeqs, conversation, created.getEventSeq(), n);
            log.printf(Locale.ROOT, "group %s with %d members ready in %.2f s%n", created.getGroup().getId(), n,
                    (System.nanoTime() - t0) / 1e9);

            String groupId = created.getGroup().getId();
            List<MessageLoad.Sender> senders = new ArrayList<>(options.senders());
            for (int i = 0; i < options.senders(); i++) {
                ParleyClient c = clients.get(i);
                senders.add(new MessageLoad.Sender(c, text -> c.sendTextToGroup(groupId, text)));
            }
            long end = load.startMeasuring();
            load.startSending(senders, resources);
            MessageLoad.sleepUntil(end);
            load.stopSending();
            load.drain(n - 1);
            return load.result("group-fanout", n, options.senders());
        } finally {
            load.close();
            resources.close();
        }
    }

    /**
     * Creates the group with {@code owner} as owner and adds {@code others}, in requests of at most half the
     * server's frame limit of ids each.
     *
     * @return the group after the last request, with the seq of the last membership event
     * @throws IllegalStateException if a request fails or times out
     */
    private GroupResponse createGroup(ParleyClient owner, List<String> others) throws InterruptedException {
        int budget = maxRequestIdBytes > 0 ? maxRequestIdBytes : Math.max(1024, owner.session().getMaxFrameBytes() / 2);
        List<List<String>> chunks = chunks(others, budget);
        String name = "bench fan-out of " + (others.size() + 1);
        GroupResponse last = await(owner.groupRequest(GroupRequest.newBuilder().setCreate(
                GroupRequest.Create.newBuilder().setName(name).addAllMembers(chunks.get(0))).build()), "create");
        for (List<String> chunk : chunks.subList(1, chunks.size())) {
            last = await(owner.groupRequest(GroupRequest.newBuilder().setAddMembers(GroupRequest.Members.newBuilder()
                    .setGroupId(last.getGroup().getId()).addAllUsers(chunk)).build()), "add members");
        }
        return last;
    }

    /**
     * Splits {@code users} into consecutive lists whose encoded ids (UTF-8 length plus 3 bytes of tag and length
     * each) take at most {@code maxBytes}; always at least one list, each with at least one id when any is given.
     */
    static List<List<String>> chunks(List<String> users, int maxBytes) {
        List<List<String>> out = new ArrayList<>();
        List<String> current = new ArrayList<>();
        int bytes = 0;
        for (String u : users) {
            int size = u.getBytes(StandardCharsets.UTF_8).length + 3;
            if (!current.isEmpty() && bytes + size > maxBytes) {
                out.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(u);
            bytes += size;
        }
        out.add(current);
        return out;
    }

    private static GroupResponse await(CompletableFuture<GroupResponse> f, String what)
            throws InterruptedException {
        try {
            return f.get(MEMBERSHIP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("group " + what + " failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("group " + what + " timed out", e);
        }
    }

    /** Waits until each of the {@code n} members has received the membership event {@code eventSeq}. */
    private static void awaitMembership(ConcurrentHashMap<String, AtomicLongArray> eventSeqs, String conversation,
            long eventSeq, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MEMBERSHIP_TIMEOUT_SECONDS);
        while (true) {
            AtomicLongArray seen = eventSeqs.get(conversation);
            int joined = 0;
            for (int i = 0; seen != null && i < n; i++) {
                if (seen.get(i) >= eventSeq) {
                    joined++;
                }
            }
            if (joined == n) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + joined + " of " + n + " members received the group's "
                        + "membership events within " + MEMBERSHIP_TIMEOUT_SECONDS + " s");
            }
            Thread.sleep(20);
        }
    }
}
