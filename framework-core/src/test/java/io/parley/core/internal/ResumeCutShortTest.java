package io.parley.core.internal;

import io.parley.core.proto.Frame;
import io.parley.core.proto.Send;
import io.parley.core.proto.SyncRequest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that goes away in the middle of its resume (a page cannot be written) ends the resume: no
 * {@code INTERNAL} error, which would count as a server fault, and its next connection resumes everything.
 */
class ResumeCutShortTest extends OneNodeTest {

    private static long resume(TestNode.Device device) {
        return device.request(Frame.newBuilder().setSync(SyncRequest.newBuilder()
                .setResume(SyncRequest.Resume.newBuilder().setPageSize(2))));
    }

    @Test
    void aPageTheConnectionCannotTakeEndsTheResumeQuietly() throws Exception {
        node = new TestNode(store, Map.of());
        TestNode.Device alice = node.connect("alice", "phone");
        for (int i = 1; i <= 5; i++) {
            long rid = alice.request(Frame.newBuilder().setSend(Send.newBuilder().setClientMsgId("m" + i)
                    .setPeer("bob").setType("text")));
            alice.await(x -> x.getRequestId() == rid && x.hasSendAck());
        }
        TestNode.Device cut = node.connect("bob", "phone");
        cut.flushesFail = true;
        long rid = resume(cut);
        assertEquals(1, cut.await(x -> x.getRequestId() == rid && x.hasSyncResponse()).getSyncResponse()
                .getConversationsCount(), "the list is sent as usual");
        assertNull(cut.poll(Frame::hasError, 300), "no error: the connection is gone, not the server broken");
        cut.disconnect();

        TestNode.Device again = node.connect("bob", "phone");
        long second = resume(again);
        again.await(x -> x.getRequestId() == second && x.hasSyncResponse());
        List<Long> seqs = new ArrayList<>();
        while (true) {
            Frame f = again.await(x -> x.hasDeliver() || x.getRequestId() == second && x.hasSyncResponse());
            if (f.hasSyncResponse()) {
                assertTrue(f.getSyncResponse().getDone(), "the resume ends with done");
                break;
            }
            f.getDeliver().getMessagesList().forEach(m -> seqs.add(m.getSeq()));
        }
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seqs, "the next connection resumes everything");
    }
}
