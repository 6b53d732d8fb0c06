// The web client's model of the user's conversations: pure logic, no DOM, no sockets (tested under node).
//
// Contract (docs/protocol.md §5): within a conversation messages are shown in seq order, each once. A delivery with
// seq <= lastSeq is a duplicate; seq == lastSeq + 1 is applied with any buffered successors; a later seq is buffered
// and reported as a gap to pull. Own messages are shown before their ack ("sending") under their client_msg_id and
// move to their seq when the ack (or their own delivery to another device) arrives.
//
// Seqs are JavaScript numbers: protobufjs decodes uint64 as Long or number; wire.js converts to number, which is exact
// up to 2^53 - far above any conversation's length.

const RECALLED = 'recalled';
const RECALL_EVENT = 'recall.event';

/** @returns a message shown as recalled: ids, seq, sender and time kept; content dropped */
function recalledCopy(m, recall) {
  const { body, ext, ...kept } = m;
  return { ...kept, type: RECALLED, recalledBy: recall.by, recalledAt: recall.at };
}

export const MessageState = Object.freeze({
  SENDING: 'sending',     // not acknowledged by the server yet (retried across reconnects with the same id)
  FAILED: 'failed',       // refused by the server (not retryable): never stored
  SENT: 'sent',           // stored under its seq
  DELIVERED: 'delivered', // the peer's device received it (1:1 conversations)
  READ: 'read',           // the peer read it (1:1), or at least one other member did (groups: see readersOf)
});

/** @returns the 1:1 conversation id of two users: "d:<min>:<max>" */
export function directConversation(a, b) {
  return a < b ? `d:${a}:${b}` : `d:${b}:${a}`;
}

/** @returns the peer of a 1:1 conversation for user me, or null if it is not a direct conversation */
export function peerOf(conversation, me) {
  if (!conversation.startsWith('d:')) return null;
  const [a, b] = conversation.slice(2).split(':');
  return a === me ? b : a;
}

export function isGroup(conversation) {
  return conversation.startsWith('g:');
}

/** @returns the group id of a group conversation ("g:<id>") */
export function groupIdOf(conversation) {
  if (!isGroup(conversation)) throw new Error(`not a group conversation: ${conversation}`);
  return conversation.slice(2);
}

class Conversation {
  constructor(id) {
    this.id = id;
    this.title = id;
    this.head = 0;          // highest seq known to exist
    this.readSeq = 0;       // this user's read cursor (all devices)
    this.lastSeq = 0;       // highest seq applied contiguously (0 = nothing in order yet)
    this.oldestSeq = 0;     // lowest seq loaded (0 = none); history pages below it
    this.peerRead = 0;      // 1:1: the peer's read cursor, as far as the server told us
    this.peerDelivered = 0; // the peer's delivery watermark (1:1 only)
    this.messages = new Map();  // seq -> message, the seqs loaded
    this.buffered = new Map();  // seq -> message, beyond a gap
    this.pending = new Map();   // clientMsgId -> message without a seq (sending or failed)
    this.last = null;       // latest message known (for the list)
    this.typing = new Map(); // user -> expiry (epoch ms)
    this.readers = new Map(); // groups up to the server's read.fanout.max: member -> read cursor (ReadUpdate)
    this.readCounts = null;  // larger groups: the latest ReadCounts {head, fromSeq, counts: [{seq, readers}]}
    this.recalled = new Map(); // seq -> {by, at}: recalled messages (from recall events), whenever their seq arrives
  }

  get unread() {
    return Math.max(0, this.head - this.readSeq);
  }
}

export class ChatState {
  /** @param me the user id this client is signed in as */
  constructor(me) {
    this.me = me;
    this.conversations = new Map();
  }

  conversation(id) {
    let c = this.conversations.get(id);
    if (!c) {
      c = new Conversation(id);
      const peer = peerOf(id, this.me);
      if (peer !== null) c.title = peer;
      this.conversations.set(id, c);
    }
    return c;
  }

  /** Conversations, most recent first. */
  sorted() {
    const time = (c) => (c.last ? c.last.serverTime : 0);
    return [...this.conversations.values()].sort((a, b) => time(b) - time(a) || a.id.localeCompare(b.id));
  }

  /** Applies ConversationList summaries: titles, heads, read cursors, latest messages. */
  applySummaries(summaries) {
    for (const s of summaries) {
      const c = this.conversation(s.conversation);
      if (s.title) c.title = s.title;
      c.head = Math.max(c.head, s.head);
      c.readSeq = Math.max(c.readSeq, s.readSeq);
      c.peerRead = Math.max(c.peerRead, s.peerReadSeq || 0);
      c.peerDelivered = Math.max(c.peerDelivered, s.peerDeliveredSeq || 0, c.peerRead);
      if (s.last && (!c.last || s.last.seq >= c.last.seq)) c.last = s.last;
    }
  }

  /**
   * Sets where in-order application starts for a conversation (the resume watermark, or the seq below the first page
   * loaded). Only raises it.
   */
  startAt(conversationId, seq) {
    const c = this.conversation(conversationId);
    if (seq > c.lastSeq) {
      c.lastSeq = seq;
      for (const s of c.buffered.keys()) if (s <= seq) c.buffered.delete(s);
    }
    c.head = Math.max(c.head, seq);
  }

  /**
   * Applies delivered or pulled messages of one conversation.
   * @returns {{applied: Message[], gap: null | {conversation, from, to}}} what became visible, in order, and the range
   *          to pull if messages beyond a gap are buffered
   */
  applyMessages(messages) {
    const applied = [];
    const touched = new Set();
    for (const m of messages) {
      // seq 0: relayed by its type (call signalling and the like), never stored and not part of the timeline
      if (!m.seq) continue;
      const c = this.conversation(m.conversation);
      // a recall event (m.recall, decoded by the client) hides the message it names, loaded or not yet
      if (m.recall) this.#recall(c, m.recall.seq, m.recall.by, m.recall.at);
      touched.add(c);
      c.head = Math.max(c.head, m.seq);
      if (m.sender === this.me && m.clientMsgId) c.pending.delete(m.clientMsgId);
      c.typing.delete(m.sender);
      if (m.seq <= c.lastSeq || c.messages.has(m.seq)) {
        if (!c.messages.has(m.seq)) this.#store(c, m); // history below the in-order point (a page backwards)
        continue;
      }
      if (m.seq === c.lastSeq + 1) {
        this.#store(c, m);
        c.lastSeq = m.seq;
        applied.push(m);
        for (let next = c.buffered.get(c.lastSeq + 1); next; next = c.buffered.get(c.lastSeq + 1)) {
          c.buffered.delete(next.seq);
          this.#store(c, next);
          c.lastSeq = next.seq;
          applied.push(next);
        }
      } else {
        c.buffered.set(m.seq, m);
      }
    }
    // only conversations these messages touched can have a new gap (the others' gaps were reported before)
    let gap = null;
    for (const c of touched) {
      if (c.buffered.size > 0) {
        let lowest = Infinity;
        for (const seq of c.buffered.keys()) lowest = Math.min(lowest, seq);
        gap = { conversation: c.id, from: c.lastSeq + 1, to: lowest - 1 };
        break;
      }
    }
    return { applied, gap };
  }

  #store(c, m) {
    const r = c.recalled.get(m.seq);
    if (r && m.type !== RECALLED) m = recalledCopy(m, r);
    c.messages.set(m.seq, m);
    if (c.oldestSeq === 0 || m.seq < c.oldestSeq) c.oldestSeq = m.seq;
    if (!c.last || m.seq >= c.last.seq) c.last = m;
  }

  /**
   * A recall this client learned of by other means than an event (the answer to its own recall command): the message
   * at seq is shown as recalled from now on, and its content is dropped.
   */
  markRecalled(conversationId, seq, by, at) {
    const c = this.conversation(conversationId);
    this.#recall(c, seq, by, at);
    return c;
  }

  #recall(c, seq, by, at) {
    if (!c.recalled.has(seq)) c.recalled.set(seq, { by, at });
    const m = c.messages.get(seq);
    if (m && m.type !== RECALLED) {
      const copy = recalledCopy(m, c.recalled.get(seq));
      c.messages.set(seq, copy);
      if (c.last && c.last.seq === seq) c.last = copy;
    }
  }

  /** An own message before its ack. */
  addPending(conversationId, message) {
    const c = this.conversation(conversationId);
    c.pending.set(message.clientMsgId, message);
    c.last = c.last && c.last.seq ? c.last : message;
  }

  /**
   * Applies a SendAck: the pending message gets its id and seq and joins the ordered messages (the ack is the
   * sending device's copy; it gets no Deliver for it).
   */
  applyAck(clientMsgId, ack) {
    for (const c of this.conversations.values()) {
      const m = c.pending.get(clientMsgId);
      if (!m) continue;
      c.pending.delete(clientMsgId);
      const stored = { ...m, id: ack.messageId, conversation: ack.conversation, seq: ack.seq,
        serverTime: ack.serverTime, state: undefined };
      return this.applyMessages([stored]);
    }
    return { applied: [], gap: null };
  }

  /**
   * Changes an own message before its ack (an upload's progress, the body once the upload is done).
   * @returns the conversation, or null if no pending message has this id
   */
  updatePending(clientMsgId, patch) {
    for (const c of this.conversations.values()) {
      const m = c.pending.get(clientMsgId);
      if (m) {
        Object.assign(m, patch);
        return c;
      }
    }
    return null;
  }

  fail(clientMsgId, reason) {
    for (const c of this.conversations.values()) {
      const m = c.pending.get(clientMsgId);
      if (m) {
        m.failed = reason;
        return c;
      }
    }
    return null;
  }

  /** ReadUpdate: the user's own cursor (another device read) or a member's. */
  applyRead(conversationId, user, seq) {
    const c = this.conversation(conversationId);
    if (user === this.me) {
      c.readSeq = Math.max(c.readSeq, seq);
    } else if (isGroup(conversationId)) {
      c.readers.set(user, Math.max(c.readers.get(user) || 0, seq));
    } else {
      c.peerRead = Math.max(c.peerRead, seq);
      c.peerDelivered = Math.max(c.peerDelivered, seq);
    }
    return c;
  }

  /** DeliveryUpdate: a device of the peer received the conversation up to seq. */
  applyDelivered(conversationId, user, seq) {
    const c = this.conversation(conversationId);
    if (user !== this.me) c.peerDelivered = Math.max(c.peerDelivered, seq);
    return c;
  }

  /** ReadCounts of a large group: replaces the previous counts. */
  applyReadCounts(counts) {
    const c = this.conversation(counts.conversation);
    c.readCounts = { head: counts.head, fromSeq: counts.fromSeq, counts: counts.counts };
    return c;
  }

  /**
   * @returns what this client learned of other members' reading in groups — {conversation: {readers: {user: seq},
   *          readCounts}} — for keeping across page loads: the server pushes ReadUpdate and ReadCounts only as they
   *          happen and re-sends neither on resume (docs/protocol.md §6b), so a reload would otherwise forget them
   */
  receipts() {
    const out = {};
    for (const c of this.conversations.values()) {
      if (!isGroup(c.id) || (c.readers.size === 0 && !c.readCounts)) continue;
      out[c.id] = { readers: Object.fromEntries(c.readers), readCounts: c.readCounts };
    }
    return out;
  }

  /**
   * Restores receipts() kept from an earlier page load. Read cursors only move forward, so a kept cursor is merged
   * with (never lowers) what arrived since; kept ReadCounts apply only where no newer frame arrived.
   */
  restoreReceipts(kept) {
    if (!kept || typeof kept !== 'object') return;
    for (const [id, r] of Object.entries(kept)) {
      if (!isGroup(id) || !r || typeof r !== 'object') continue;
      const c = this.conversation(id);
      for (const [user, seq] of Object.entries(r.readers || {})) {
        if (Number.isFinite(seq)) c.readers.set(user, Math.max(c.readers.get(user) || 0, seq));
      }
      const rc = r.readCounts;
      if (rc && Array.isArray(rc.counts) && (!c.readCounts || c.readCounts.head < rc.head)) c.readCounts = rc;
    }
  }

  /**
   * @returns how many other members have read the group message at seq: from ReadUpdates (small groups) or the latest
   *          ReadCounts (large groups; they count every member whose cursor is at or past seq, this user included)
   */
  readersOf(conversationId, seq) {
    const c = this.conversation(conversationId);
    const rc = c.readCounts;
    if (rc && seq >= rc.fromSeq && seq <= rc.head) {
      const step = rc.counts.find((e) => e.seq >= seq);
      const all = step ? step.readers : 0;
      return Math.max(0, all - (c.readSeq >= seq ? 1 : 0));
    }
    let n = 0;
    for (const cursor of c.readers.values()) if (cursor >= seq) n++;
    return n;
  }

  /** The state shown beside an own message. */
  stateOf(conversationId, m) {
    if (m.failed) return MessageState.FAILED;
    if (!m.seq) return MessageState.SENDING;
    if (isGroup(conversationId)) return this.readersOf(conversationId, m.seq) > 0 ? MessageState.READ : MessageState.SENT;
    const c = this.conversation(conversationId);
    if (m.seq <= c.peerRead) return MessageState.READ;
    if (m.seq <= c.peerDelivered) return MessageState.DELIVERED;
    return MessageState.SENT;
  }

  /**
   * Messages to show for a conversation: stored ones by seq (recall events are applied to the message they name, not
   * shown), then pending ones in the order they were sent.
   */
  timeline(conversationId) {
    const c = this.conversation(conversationId);
    const stored = [...c.messages.values()].filter((m) => m.type !== RECALL_EVENT).sort((a, b) => a.seq - b.seq);
    return stored.concat([...c.pending.values()]);
  }

  /**
   * Typing notice from a member; shown until expiry or until their next message.
   * @returns the users typing now in the conversation
   */
  applyTyping(conversationId, user, typing, now, ttlMillis = 6000) {
    const c = this.conversation(conversationId);
    if (user === this.me) return this.typingUsers(conversationId, now);
    if (typing) c.typing.set(user, now + ttlMillis);
    else c.typing.delete(user);
    return this.typingUsers(conversationId, now);
  }

  typingUsers(conversationId, now) {
    const c = this.conversation(conversationId);
    for (const [u, until] of c.typing) if (until <= now) c.typing.delete(u);
    return [...c.typing.keys()].sort();
  }
}
