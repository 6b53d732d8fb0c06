// The chat client: protocol behaviour on top of Connection (resume, ordering, acks, retries, read cursors, typing)
// and the ChatState model. The UI subscribes with onChange and calls the actions below.
//
// Delivery contract kept here (docs/protocol.md §3-5): after every hello the client lists the conversations, resumes
// (the server streams what this device missed since its watermark), re-sends every unacknowledged message under its
// original client_msg_id (the server answers duplicates with the original ack), acknowledges what it has applied
// (coalesced, cumulative), and pulls gaps with range requests.
import { Connection, ParleyError } from './connection.js';
import { ChatState, directConversation, groupIdOf } from './state.js';
import { messageTypes, recallEventOf, recallPayload, recallResultOf, RECALL_COMMAND } from './wire.js';

const ACK_DELAY_MS = 50;
const PAGE = 50;
const TYPING_REPEAT_MS = 3000;

export class ChatClient {
  /** @param options {url, token, deviceId, user} user: the token's subject (checked against HelloOk) */
  constructor(options) {
    this.options = options;
    this.state = new ChatState(options.user);
    this.status = { status: 'connecting', detail: '' };
    this.listeners = new Set();
    this.outbox = new Map();        // clientMsgId -> Send (until acked or refused)
    this.ackDue = new Map();        // conversation -> seq to acknowledge
    this.ackTimer = null;
    this.openConversation = null;   // shown in the UI: messages there count as read
    this.visible = true;
    this.lastTypingSent = 0;
    this.pulling = new Set();       // conversations with a gap pull in flight
    this.error = null;
    this.counter = 0;
    this.connection = new Connection({
      url: options.url,
      token: options.token,
      deviceId: options.deviceId,
      onReady: (helloOk) => this.#onReady(helloOk),
      onPush: (frame) => this.#onPush(frame),
      onStatus: (status, detail) => { this.status = { status, detail }; this.#changed(); },
      onFatal: (e) => { this.error = e; this.#changed(); },
    });
  }

  start() {
    this.connection.start();
  }

  stop() {
    clearTimeout(this.ackTimer);
    this.connection.stop();
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  #changed(conversation) {
    for (const l of this.listeners) l(conversation);
  }

  // ------------------------------------------------------------------------------------------------ session

  async #onReady(helloOk) {
    if (helloOk.userId !== this.state.me) {
      // the token is for another user than the one this page stored: start over rather than mix two users' data
      this.state = new ChatState(helloOk.userId);
      this.outbox.clear();
    }
    this.error = null;
    try {
      await this.refreshList();
      await this.#resume();
      for (const send of this.outbox.values()) this.#transmit(send);
      if (this.openConversation) await this.loadLatest(this.openConversation);
    } catch (e) {
      if (!(e instanceof ParleyError && e.code === 'OFFLINE')) console.error('parley: resume failed', e);
    }
  }

  async refreshList() {
    const response = await this.connection.request({ conversationList: { limit: 0 } });
    this.state.applySummaries(response.conversationListResponse.conversations);
    this.#changed();
  }

  #resume() {
    // SyncResponse frames with the resume's request id: the first lists watermarks, the last has done = true. Deliver
    // frames in between are pushes. Connection.request resolves on the first response only, so the rest arrive here.
    return new Promise((resolve, reject) => {
      this.resumeDone = resolve;
      this.connection.request({ sync: { resume: { pageSize: 0 } } }).then((frame) => {
        this.resumeId = frame.requestId;
        this.#onSyncResponse(frame);
      }, reject);
    });
  }

  #onSyncResponse(frame) {
    const r = frame.syncResponse;
    for (const cs of r.conversations) {
      this.state.startAt(cs.conversation, cs.watermark);
      this.state.conversation(cs.conversation).head = Math.max(this.state.conversation(cs.conversation).head, cs.head);
    }
    if (r.done) {
      this.resumeDone?.();
      this.resumeDone = null;
    }
    this.#changed();
  }

  #onPush(frame) {
    switch (frame.op) {
      case 'deliver':
        this.#onMessages(frame.deliver.messages);
        break;
      case 'syncResponse':
        this.#onSyncResponse(frame);
        break;
      case 'readUpdate': {
        const u = frame.readUpdate;
        this.#changed(this.state.applyRead(u.conversation, u.user, u.seq).id);
        break;
      }
      case 'readCounts':
        this.#changed(this.state.applyReadCounts(frame.readCounts).id);
        break;
      case 'deliveryUpdate': {
        const u = frame.deliveryUpdate;
        this.#changed(this.state.applyDelivered(u.conversation, u.user, u.seq).id);
        break;
      }
      case 'typing': {
        const t = frame.typing;
        this.state.applyTyping(t.conversation, t.user, t.typing, Date.now());
        this.#changed(t.conversation);
        setTimeout(() => this.#changed(t.conversation), 6100);
        break;
      }
      case 'error':
        console.warn('parley: server error', frame.error);
        break;
      default:
        break;
    }
  }

  #onMessages(messages) {
    if (messages.length === 0) return;
    // a conversation this client has not listed yet (a new group, a first message): fetch its title and counts
    const unknown = messages.some((m) => !this.state.conversations.has(m.conversation));
    for (const m of messages) {
      const recall = recallEventOf(m);
      if (recall) m.recall = recall;
    }
    const { applied, gap } = this.state.applyMessages(messages);
    if (unknown) this.refreshList().catch((e) => console.warn('parley: conversation list failed', e));
    for (const m of applied) this.#ackLater(m.conversation, m.seq);
    if (gap) this.#pull(gap);
    this.#readOpen();
    const touched = new Set(messages.map((m) => m.conversation));
    for (const c of touched) this.#changed(c);
  }

  async #pull(gap) {
    if (this.pulling.has(gap.conversation)) return;
    this.pulling.add(gap.conversation);
    try {
      let from = gap.from;
      for (;;) {
        const r = (await this.connection.request({ sync: { range: { conversation: gap.conversation, fromSeq: from,
          toSeq: gap.to, limit: 200 } } })).syncResponse;
        this.#onMessages(r.messages);
        if (!r.hasMore || r.messages.length === 0) break;
        from = r.messages[r.messages.length - 1].seq + 1;
      }
    } catch (e) {
      console.warn('parley: gap pull failed; the next resume fills it', e);
    } finally {
      this.pulling.delete(gap.conversation);
    }
  }

  #ackLater(conversation, seq) {
    if ((this.ackDue.get(conversation) || 0) < seq) this.ackDue.set(conversation, seq);
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      for (const [c, s] of this.ackDue) this.connection.post({ deliverAck: { conversation: c, seq: s } });
      this.ackDue.clear();
    }, ACK_DELAY_MS);
  }

  // ------------------------------------------------------------------------------------------------ actions

  /** Sends a message of a type in messageTypes to a peer (user id) or a conversation id. */
  send({ peer, conversation, type = 'text', content }) {
    const composer = messageTypes[type]?.compose;
    if (!composer) throw new Error(`cannot send messages of type ${type}`);
    const conv = conversation ?? directConversation(this.state.me, peer);
    const clientMsgId = `w${Date.now().toString(36)}-${(this.counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const body = composer(content);
    const send = { clientMsgId, type, body, ...(peer ? { peer } : { conversation: conv }) };
    this.state.addPending(conv, { clientMsgId, conversation: conv, sender: this.state.me, type, body,
      serverTime: Date.now() });
    this.outbox.set(clientMsgId, send);
    this.#changed(conv);
    if (this.connection.online) this.#transmit(send);
    return clientMsgId;
  }

  async #transmit(send) {
    try {
      const frame = await this.connection.request({ send });
      this.outbox.delete(send.clientMsgId);
      const ack = frame.sendAck;
      const { applied } = this.state.applyAck(send.clientMsgId, ack);
      for (const m of applied) this.#ackLater(m.conversation, m.seq);
      this.#readOpen();
      this.#changed(ack.conversation);
    } catch (e) {
      if (e instanceof ParleyError && e.retryable) {
        // stays in the outbox and goes again (same client_msg_id: the server answers a repeat with the original ack):
        // after the next hello when offline, after a pause when the server asked for one or did not answer
        if (e.code === 'ERROR_CODE_UNAVAILABLE' || e.code === 'ERROR_CODE_RATE_LIMITED' || e.code === 'TIMEOUT') {
          setTimeout(() => { if (this.outbox.has(send.clientMsgId) && this.connection.online) this.#transmit(send); },
            Math.max(500, e.retryAfterMs));
        }
        return;
      }
      this.outbox.delete(send.clientMsgId);
      const c = this.state.fail(send.clientMsgId, e.message || String(e));
      this.#changed(c?.id);
    }
  }

  /** Shows a conversation: loads its latest page and marks it read while the page is visible. */
  async open(conversationId) {
    this.openConversation = conversationId;
    this.#changed(conversationId);
    if (this.connection.online) await this.loadLatest(conversationId);
  }

  /** Makes sure the latest page of the conversation is loaded, below whatever live deliveries brought already. */
  async loadLatest(conversationId) {
    const c = this.state.conversation(conversationId);
    const from = Math.max(1, c.head - PAGE + 1);
    if (c.head > 0 && (c.oldestSeq === 0 || c.oldestSeq > from)) {
      // the page is contiguous history: apply it in order from just below it
      if (c.lastSeq < from - 1) this.state.startAt(conversationId, from - 1);
      const to = c.oldestSeq === 0 ? 0 : c.oldestSeq - 1;
      const r = (await this.connection.request({ sync: { range: { conversation: conversationId, fromSeq: from,
        toSeq: to, limit: PAGE } } })).syncResponse;
      this.#onMessages(r.messages);
    }
    this.#readOpen();
    this.#changed(conversationId);
  }

  /** Loads the page of history before the oldest loaded message. @returns how many messages it loaded */
  async loadOlder(conversationId) {
    const c = this.state.conversation(conversationId);
    if (c.oldestSeq <= 1) return 0;
    const to = c.oldestSeq - 1;
    const from = Math.max(1, to - PAGE + 1);
    const r = (await this.connection.request({ sync: { range: { conversation: conversationId, fromSeq: from,
      toSeq: to, limit: PAGE } } })).syncResponse;
    for (const m of r.messages) {
      const recall = recallEventOf(m);
      if (recall) m.recall = recall;
    }
    this.state.applyMessages(r.messages);
    this.#changed(conversationId);
    return r.messages.length;
  }

  /**
   * Recalls the message at seq (the server lets its sender within its window, a group's owner and admins any time).
   * On success the message shows as recalled at once (the recall event that follows changes nothing more).
   * @returns the RecallResult; rejects with a ParleyError (FORBIDDEN with the reason, NOT_FOUND, ...)
   */
  async recall(conversationId, seq) {
    const frame = await this.connection.request({ command: { type: RECALL_COMMAND,
      payload: recallPayload(conversationId, seq), clientRequestId: `wr${Date.now().toString(36)}-${this.counter++}` } });
    const result = recallResultOf(frame.commandResult.payload);
    this.state.markRecalled(conversationId, seq, result?.recalledBy ?? this.state.me, result?.recalledAt ?? Date.now());
    this.#changed(conversationId);
    return result;
  }

  setVisible(visible) {
    this.visible = visible;
    this.#readOpen();
  }

  #readOpen() {
    const id = this.openConversation;
    if (!id || !this.visible || !this.connection.online) return;
    const c = this.state.conversation(id);
    const seq = c.lastSeq;
    if (seq > c.readSeq) {
      c.readSeq = seq;
      this.connection.post({ markRead: { conversation: id, seq } });
      this.#changed(id);
    }
  }

  /** Tells the other members this user is typing (at most every few seconds) or stopped. */
  typing(conversationId, typing) {
    const now = Date.now();
    if (typing && now - this.lastTypingSent < TYPING_REPEAT_MS) return;
    this.lastTypingSent = typing ? now : 0;
    this.connection.post({ typing: { conversation: conversationId, typing } });
  }

  /** Creates a group with the given members (user ids); @returns the group's conversation id */
  async createGroup(name, members) {
    return (await this.#groupOp({ create: { name, members } })).conversation;
  }

  /**
   * Runs a group operation (an op field of GroupRequest, e.g. {get: {groupId}}) with a fresh idempotency key.
   * @returns the group after the operation
   */
  async #groupOp(op) {
    const r = await this.connection.request({ group: { clientRequestId: `wg${Date.now().toString(36)}-${this.counter++}`,
      ...op } });
    const g = r.groupResponse.group;
    this.state.conversation(g.conversation).title = g.name;
    this.#changed(g.conversation);
    return g;
  }

  /** @returns the group of a group conversation: name, members with roles, muted and dissolved flags */
  getGroup(conversationId) {
    return this.#groupOp({ get: { groupId: groupIdOf(conversationId) } });
  }

  addMembers(conversationId, users) {
    return this.#groupOp({ addMembers: { groupId: groupIdOf(conversationId), users } });
  }

  removeMember(conversationId, user) {
    return this.#groupOp({ removeMembers: { groupId: groupIdOf(conversationId), users: [user] } });
  }

  leaveGroup(conversationId) {
    return this.#groupOp({ leave: { groupId: groupIdOf(conversationId) } });
  }

  /** Drops the connection as a network failure would; the client reconnects and resumes. */
  reconnect() {
    this.connection.drop();
  }
}
