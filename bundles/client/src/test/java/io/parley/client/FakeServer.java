package io.parley.client;

import com.google.protobuf.Any;
import io.parley.core.api.Ids;
import io.parley.core.proto.ConversationState;
import io.parley.core.proto.Deliver;
import io.parley.core.proto.Error;
import io.parley.core.proto.ErrorCode;
import io.parley.core.proto.Frame;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.Notice;
import io.parley.core.proto.Pong;
import io.parley.core.proto.Send;
import io.parley.core.proto.SendAck;
import io.parley.core.proto.SyncRequest;
import io.parley.core.proto.SyncResponse;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A small protocol-v1 server on a real socket for client tests: one thread per connection, an in-memory
 * conversation store, and the semantics the real server promises (hello, resume sync with watermark list,
 * streamed missed messages and a done response, send with dedupe by client_msg_id and delivery to the other
 * connections of both members, range sync, cumulative delivery acks, ping). The token is the user id; tokens
 * starting with "bad" are refused with UNAUTHENTICATED. Tests script deviations with {@link #interceptor}.
 */
final class FakeServer implements AutoCloseable {
    /** Handles a frame instead of the default behaviour when it returns true. Runs on the connection's thread. */
    interface Interceptor {
        boolean handle(Conn conn, Frame frame) throws IOException;
    }

    record Received(Conn conn, Frame frame) {
    }

    final class Conn {
        final Socket socket;
        final DataOutputStream out;
        volatile String user;
        volatile String device;

        Conn(Socket socket) throws IOException {
            this.socket = socket;
            this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
        }

        void send(Frame frame) {
            byte[] bytes = frame.toByteArray();
            synchronized (out) {
                try {
                    out.writeInt(bytes.length);
                    out.write(bytes);
                    out.flush();
                } catch (IOException e) {
                    close();
                }
            }
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private final ServerSocket server;
    private final Thread acceptor;
    final List<Conn> conns = new CopyOnWriteArrayList<>();
    final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
    final AtomicInteger hellos = new AtomicInteger();
    private final Map<String, List<Message>> store = new HashMap<>();
    private final Map<String, Long> watermarks = new HashMap<>();
    private final Map<String, SendAck> acks = new HashMap<>();
    volatile Interceptor interceptor;
    volatile boolean ignoreDeliverAcks;
    volatile int heartbeatSeconds = 30;
    private volatile boolean closed;

    FakeServer() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::acceptLoop, "fake-server-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                s.setTcpNoDelay(true);
                Conn c = new Conn(s);
                conns.add(c);
                Thread t = new Thread(() -> readLoop(c), "fake-server-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void readLoop(Conn c) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(c.socket.getInputStream()))) {
            while (true) {
                int len = in.readInt();
                byte[] bytes = new byte[len];
                in.readFully(bytes);
                Frame f = Frame.parseFrom(bytes);
                received.add(new Received(c, f));
                Interceptor i = interceptor;
                if (i != null && i.handle(c, f)) {
                    continue;
                }
                handle(c, f);
            }
        } catch (EOFException e) {
            // client closed
        } catch (IOException e) {
            // socket closed
        } finally {
            conns.remove(c);
            c.close();
        }
    }

    /** The default, protocol-following behaviour. */
    void handle(Conn c, Frame f) {
        long id = f.getRequestId();
        switch (f.getOpCase()) {
            case HELLO -> {
                hellos.incrementAndGet();
                String token = f.getHello().getToken();
                if (token.startsWith("bad")) {
                    c.send(error(id, ErrorCode.ERROR_CODE_UNAUTHENTICATED, "bad token", false, 0));
                    c.close();
                    return;
                }
                c.user = token;
                c.device = f.getHello().getDeviceId();
                c.send(Frame.newBuilder().setRequestId(id).setHelloOk(HelloOk.newBuilder().setUserId(c.user)
                        .setDeviceId(c.device).setSessionId("s" + hellos.get()).setServerTime(System.currentTimeMillis())
                        .setHeartbeatSeconds(heartbeatSeconds).setMaxFrameBytes(1 << 20)).build());
            }
            case SYNC -> {
                if (f.getSync().hasResume()) {
                    resume(c, id);
                } else {
                    range(c, id, f.getSync().getRange());
                }
            }
            case SEND -> send(c, id, f.getSend());
            case DELIVER_ACK -> {
                if (!ignoreDeliverAcks) {
                    synchronized (this) {
                        watermarks.merge(key(c.user, c.device, f.getDeliverAck().getConversation()),
                                f.getDeliverAck().getSeq(), Math::max);
                    }
                }
            }
            case PING -> c.send(Frame.newBuilder().setRequestId(id).setPong(Pong.newBuilder()
                    .setClientTime(f.getPing().getClientTime()).setServerTime(System.currentTimeMillis())).build());
            default -> c.send(error(id, ErrorCode.ERROR_CODE_INVALID_REQUEST, "unexpected " + f.getOpCase(), false, 0));
        }
    }

    void resume(Conn c, long id) {
        List<ConversationState> states = new ArrayList<>();
        List<List<Message>> missed = new ArrayList<>();
        synchronized (this) {
            for (Map.Entry<String, List<Message>> e : store.entrySet()) {
                if (!Ids.directMembers(e.getKey()).contains(c.user)) {
                    continue;
                }
                long wm = watermarks.getOrDefault(key(c.user, c.device, e.getKey()), 0L);
                List<Message> msgs = e.getValue();
                states.add(ConversationState.newBuilder().setConversation(e.getKey()).setWatermark(wm)
                        .setHead(msgs.size()).build());
                missed.add(new ArrayList<>(msgs.subList((int) Math.min(wm, msgs.size()), msgs.size())));
            }
        }
        c.send(Frame.newBuilder().setRequestId(id).setSyncResponse(SyncResponse.newBuilder()
                .addAllConversations(states)).build());
        for (List<Message> msgs : missed) {
            for (Message m : msgs) {
                if (!m.getSenderDevice().equals(c.device) || !m.getSender().equals(c.user)) {
                    c.send(deliver(m));
                }
            }
        }
        c.send(Frame.newBuilder().setRequestId(id).setSyncResponse(SyncResponse.newBuilder().setDone(true)).build());
    }

    void range(Conn c, long id, SyncRequest.Range r) {
        List<Message> out = new ArrayList<>();
        boolean more;
        synchronized (this) {
            List<Message> msgs = store.getOrDefault(r.getConversation(), List.of());
            long to = r.getToSeq() == 0 ? msgs.size() : Math.min(r.getToSeq(), msgs.size());
            int limit = r.getLimit() == 0 ? 100 : r.getLimit();
            long seq = Math.max(1, r.getFromSeq());
            for (; seq <= to && out.size() < limit; seq++) {
                out.add(msgs.get((int) seq - 1));
            }
            more = seq <= msgs.size();
        }
        c.send(Frame.newBuilder().setRequestId(id).setSyncResponse(SyncResponse.newBuilder().addAllMessages(out)
                .setHasMore(more)).build());
    }

    void send(Conn c, long id, Send s) {
        if (!"text".equals(s.getType())) {
            c.send(error(id, ErrorCode.ERROR_CODE_UNSUPPORTED_TYPE, "no processor for " + s.getType(), false, 0));
            return;
        }
        c.send(Frame.newBuilder().setRequestId(id).setSendAck(accept(c, s)).build());
    }

    /** Stores a send (deduplicated by client_msg_id) and delivers it to the members' other connections. */
    SendAck accept(Conn c, Send s) {
        String conversation = s.hasConversation() ? s.getConversation() : Ids.direct(c.user, s.getPeer());
        SendAck ack;
        Message stored = null;
        synchronized (this) {
            String dedupeKey = c.user + '/' + s.getClientMsgId();
            SendAck earlier = acks.get(dedupeKey);
            if (earlier != null) {
                ack = earlier.toBuilder().setDuplicate(true).build();
            } else {
                stored = appendLocked(conversation, c.user, c.device, s.getClientMsgId(), s.getType(), s.getBody());
                ack = SendAck.newBuilder().setMessageId(stored.getId()).setConversation(conversation)
                        .setSeq(stored.getSeq()).setServerTime(stored.getServerTime()).build();
                acks.put(dedupeKey, ack);
            }
        }
        if (stored != null) {
            List<String> members = Ids.directMembers(conversation);
            for (Conn other : conns) {
                if (other != c && other.user != null && members.contains(other.user)) {
                    other.send(deliver(stored));
                }
            }
        }
        return ack;
    }

    /** Stores a message without delivering it; returns it with its seq. */
    synchronized Message append(String conversation, String sender, String text) {
        return appendLocked(conversation, sender, "other-device", "", "text", Bodies.text(text));
    }

    private Message appendLocked(String conversation, String sender, String senderDevice, String clientMsgId,
            String type, Any body) {
        List<Message> msgs = store.computeIfAbsent(conversation, k -> new ArrayList<>());
        Message m = Message.newBuilder().setId("m" + conversation + "/" + (msgs.size() + 1))
                .setClientMsgId(clientMsgId).setSender(sender).setSenderDevice(senderDevice)
                .setConversation(conversation).setSeq(msgs.size() + 1).setServerTime(System.currentTimeMillis())
                .setType(type).setBody(body).build();
        msgs.add(m);
        return m;
    }

    synchronized void setWatermark(String user, String device, String conversation, long seq) {
        watermarks.put(key(user, device, conversation), seq);
    }

    synchronized long watermark(String user, String device, String conversation) {
        return watermarks.getOrDefault(key(user, device, conversation), 0L);
    }

    synchronized List<Message> messages(String conversation) {
        return new ArrayList<>(store.getOrDefault(conversation, List.of()));
    }

    synchronized int stored(String conversation) {
        return store.getOrDefault(conversation, List.of()).size();
    }

    /** The connections of {@code user} that completed hello. */
    List<Conn> connsOf(String user) {
        List<Conn> out = new ArrayList<>();
        for (Conn c : conns) {
            if (user.equals(c.user)) {
                out.add(c);
            }
        }
        return out;
    }

    /** Waits for the next received frame matching {@code p}, skipping others; fails after {@code timeout}. */
    Received await(Predicate<Frame> p, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            Received r = received.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (r == null) {
                throw new AssertionError("no matching frame within " + timeout);
            }
            if (p.test(r.frame())) {
                return r;
            }
        }
    }

    static Frame deliver(Message... messages) {
        return Frame.newBuilder().setDeliver(Deliver.newBuilder().addAllMessages(List.of(messages))).build();
    }

    static Frame error(long id, ErrorCode code, String text, boolean retryable, int retryAfterMs) {
        return Frame.newBuilder().setRequestId(id).setError(Error.newBuilder().setCode(code).setMessage(text)
                .setRetryable(retryable).setRetryAfterMs(retryAfterMs)).build();
    }

    static Frame notice(Notice.Kind kind, int reconnectAfterMs) {
        return Frame.newBuilder().setNotice(Notice.newBuilder().setKind(kind).setText("test")
                .setReconnectAfterMs(reconnectAfterMs)).build();
    }

    private static String key(String user, String device, String conversation) {
        return user + '/' + device + '/' + conversation;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Conn c : conns) {
            c.close();
        }
    }
}
