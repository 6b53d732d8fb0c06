package io.parley.itest;

import io.parley.core.api.Ids;
import io.parley.core.proto.HelloOk;
import io.parley.core.proto.Message;
import io.parley.core.proto.SendAck;
import io.parley.itest.DeliveryLedger.Audit;
import io.parley.itest.DeliveryLedger.Device;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The audit of {@link DeliveryLedger} on hand-made histories: it must see each kind of violation. */
class DeliveryLedgerTest {
    final SuiteConversation ab = new SuiteConversation.Direct("a", "b");
    final String conv = Ids.direct("a", "b");
    final Device a1 = new Device("a", "a1");
    final Device b1 = new Device("b", "b1");
    final Device b2 = new Device("b", "b2");
    final Map<String, List<Device>> devices = Map.of("a", List.of(a1), "b", List.of(b1, b2));
    final DeliveryLedger ledger = new DeliveryLedger();

    @Test
    void completeHistoryIsClean() {
        ack(a1, "x1", 1, "m1", false);
        ack(b1, "y2", 2, "m2", false);
        ack(a1, "x3", 3, "m3", false);
        deliver(b1, 1, "m1");
        deliver(b1, 3, "m3"); // seq 2 is b1's own send
        deliver(b2, 1, "m1");
        deliver(b2, 2, "m2");
        deliver(b2, 3, "m3");
        deliver(a1, 2, "m2");
        Audit audit = ledger.audit(List.of(ab), devices);
        assertTrue(audit.clean(), audit.toString());
        assertEquals(6, audit.expectedDeliveries());
    }

    @Test
    void missingDuplicatedAndOutOfOrderDeliveriesAreCounted() {
        ack(a1, "x1", 1, "m1", false);
        ack(a1, "x2", 2, "m2", false);
        deliver(b1, 2, "m2");
        deliver(b1, 1, "m1"); // out of order
        deliver(b2, 1, "m1");
        deliver(b2, 1, "m1"); // twice; b2 never gets m2
        Audit audit = ledger.audit(List.of(ab), devices);
        assertEquals(1, audit.lost());
        assertEquals(1, audit.duplicated());
        assertEquals(2, audit.reordered()); // b1's seq 2 skipped seq 1, then seq 1 came after seq 2
        assertEquals(1, audit.diverged());
    }

    @Test
    void seqReuseRepeatAcksAndHolesAreCounted() {
        ack(a1, "x1", 1, "m1", false);
        ack(a1, "x1", 1, "m1", true); // a faithful repeat
        ack(a1, "x2", 1, "m9", false); // another message at seq 1
        ack(a1, "x3", 4, "m4", false); // seqs 2 and 3 were never acked
        ack(a1, "x3", 5, "m5", true); // a repeat answered with a different seq
        Audit audit = ledger.audit(List.of(ab), devices);
        assertEquals(1, audit.seqReuse());
        assertEquals(1, audit.idempotency());
        assertEquals(2, audit.seqHoles());
    }

    @Test
    void deliveryOfAMessageOlderThanTheCurrentConnectionCountsAsRecovered() {
        b1.onConnected(HelloOk.getDefaultInstance());
        b1.onConnected(HelloOk.getDefaultInstance()); // reconnected
        b1.onMessage(Message.newBuilder().setConversation(conv).setSeq(1).setId("m1").setServerTime(1).build());
        b1.onMessage(Message.newBuilder().setConversation(conv).setSeq(2).setId("m2")
                .setServerTime(System.currentTimeMillis() + 60_000).build());
        assertEquals(1, ledger.audit(List.of(ab), devices).recovered());
    }

    private void ack(Device d, String clientMsgId, long seq, String id, boolean duplicate) {
        ledger.acked(d, clientMsgId, SendAck.newBuilder().setConversation(conv).setSeq(seq).setMessageId(id)
                .setDuplicate(duplicate).build());
    }

    private void deliver(Device d, long seq, String id) {
        d.onMessage(Message.newBuilder().setConversation(conv).setSeq(seq).setId(id).build());
    }
}
