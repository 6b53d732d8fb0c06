// The chat client: protocol behaviour on top of Connection (resume, ordering, acks, retries, read cursors, typing)
// and the ChatState model. The UI subscribes with onChange and calls the actions below.
//
// Delivery contract kept here (docs/protocol.md §3-5): after every hello the client lists the conversations, resumes
// (the server streams what this device missed since its watermark), re-sends every unacknowledged message under its
// original client_msg_id (the server answers duplicates with the original ack), acknowledges what it has applied
// (coalesced, cumulative), and pulls gaps with range requests.
import { Connection, ParleyError } from './connection.js';
import { ChatState, directConversation, groupIdOf, isGroup } from './state.js';
import { contentTypeOf, describeError, kindOf, localExpiry, safeName, sha256Hex, StickerCatalog, uploadBytes,
  UploadError } from './files.js';
import { xhrRequest } from './http.js';
import { CallManager } from './calls.js';
import { fileNameFor } from './media.js';
import { CALL_COMMANDS, callEventOf, callHangupPayload, callJoinedOf, callJoinPayload, callRejectPayload,
  callSignalOf, callSignalPayload, callStartedOf, callStartPayload, callUpdateOf, downloadRequestPayload,
  downloadTicketOf, FILE_DOWNLOAD_COMMAND, FILE_UPLOAD_COMMAND, messageTypes, recallEventOf, recallPayload,
  recallResultOf, RECALL_COMMAND, stickerCatalogOf, stickerListPayload, STICKER_LIST_COMMAND, uploadRequestPayload,
  uploadTicketOf } from './wire.js';

const ACK_DELAY_MS = 50;
const PAGE = 50;
const TYPING_REPEAT_MS = 3000;
/** A download or sticker URL is asked for again this long before it expires. */
const URL_MARGIN_MS = 30_000;
/** Attempts at a command a file send needs (ticket) when the server answers with a retryable error. */
const COMMAND_ATTEMPTS = 4;
const CATALOG_RETRY_MS = 5000;
/** Group read receipts are written to storage at most this often (they can change many times a second). */
const RECEIPTS_SAVE_MS = 500;

/** @returns the storage key of a user's kept group read receipts (ChatState.receipts) */
export function receiptsKey(user) {
  return `parley.receipts.${user}`;
}

/**
 * @returns {width, height} of an image file as the browser decodes it, or {} where it cannot: only for showing the
 *          own message before the server's copy (the server sets the stored dimensions)
 */
async function dimensionsOf(file) {
  try {
    const bitmap = await globalThis.createImageBitmap(file);
    const dimensions = { width: bitmap.width, height: bitmap.height };
    bitmap.close?.();
    return dimensions;
  } catch (e) {
    return {};
  }
}

export class ChatClient {
  /**
   * @param options {url, token, deviceId, user, http?, pageOrigin?, sleep?, iceTransportPolicy?, getUserMedia?,
   *        createPeerConnection?} user: the token's subject (checked against HelloOk); http: what uploads run on
   *        (files.js uploadBytes; default XMLHttpRequest); pageOrigin: the origin uploads must go to (default the
   *        page's: the blob endpoints answer no CORS preflight); iceTransportPolicy: 'relay' to call through TURN only;
   *        getUserMedia, createPeerConnection: the browser's by default (stand-ins in tests); storage: where group
   *        read receipts are kept across page loads (getItem/setItem; default the page's localStorage, none in node)
   */
  constructor(options) {
    this.options = { http: xhrRequest, pageOrigin: globalThis.location?.origin ?? null,
      storage: globalThis.localStorage ?? null, ...options };
    this.state = new ChatState(options.user);
    this.receiptsTimer = null;
    this.#restoreReceipts();
    this.status = { status: 'connecting', detail: '' };
    this.listeners = new Set();
    this.outbox = new Map();        // clientMsgId -> Send (until acked or refused)
    this.ackDue = new Map();        // conversation -> seq to acknowledge
    this.ackTimer = null;
    this.openConversation = null;   // shown in the UI: messages there count as read
    this.signedIn = false;          // a hello succeeded once (a fatal error before that is a refused token)
    this.visible = true;
    this.lastTypingSent = 0;
    this.pulling = new Set();       // conversations with a gap pull in flight
    this.error = null;
    this.counter = 0;
    this.downloads = new Map();     // "conversation/seq" -> {promise, expiresAt}: file.download answers
    this.catalog = new StickerCatalog(null); // the latest sticker.list answer
    this.catalogRequest = null;
    this.catalogRetryAt = 0;        // after a sticker.list that got no answer, not asked again before this
    this.calls = new CallManager({
      me: options.user,
      deviceId: options.deviceId,
      iceTransportPolicy: options.iceTransportPolicy,
      api: this.#callApi(),
      getUserMedia: options.getUserMedia ?? ((c) => globalThis.navigator.mediaDevices.getUserMedia(c)),
      createPeerConnection: options.createPeerConnection ?? ((config) => new globalThis.RTCPeerConnection(config)),
      onChange: () => this.#changed(),
    });
    this.connection = new Connection({
      url: options.url,
      token: options.token,
      deviceId: options.deviceId,
      onReady: (helloOk) => this.#onReady(helloOk),
      onPush: (frame) => this.#onPush(frame),
      onStatus: (status, detail) => { this.status = { status, detail }; this.#changed(); },
      onFatal: (e) => {
        this.error = e;
        this.status = { status: 'offline', detail: e.message };
        this.#changed();
      },
    });
  }

  start() {
    this.connection.start();
  }

  stop() {
    clearTimeout(this.ackTimer);
    if (this.receiptsTimer) this.saveReceipts();
    this.calls.stopAll();
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
      this.#restoreReceipts();
      this.outbox.clear();
      this.calls.stopAll();
      this.calls.me = helloOk.userId;
    }
    this.error = null;
    this.signedIn = true;
    try {
      await this.refreshList();
      await this.#resume();
      for (const send of this.outbox.values()) this.#transmit(send);
      this.calls.rejoin();
      if (this.openConversation) await this.loadLatest(this.openConversation);
      if (this.catalog.error) this.catalog = new StickerCatalog(null);
      this.stickers().catch(() => {});
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
        if (u.user !== this.state.me && isGroup(u.conversation)) this.#receiptsChanged();
        break;
      }
      case 'readCounts':
        this.#changed(this.state.applyReadCounts(frame.readCounts).id);
        this.#receiptsChanged();
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
    // relayed call signalling (seq 0) goes to the call; it is no part of any conversation's history
    for (const m of messages) {
      const signal = m.seq ? null : callSignalOf(m);
      if (signal) this.calls.onSignal(m, signal);
    }
    // a conversation this client has not listed yet (a new group, a first message): fetch its title and counts
    const unknown = messages.some((m) => !this.state.conversations.has(m.conversation));
    this.#decodeRecalls(messages);
    const { applied, gap } = this.state.applyMessages(messages);
    if (unknown) this.refreshList().catch((e) => console.warn('parley: conversation list failed', e));
    for (const m of applied) this.#ackLater(m.conversation, m.seq);
    for (const m of messages) {
      const event = m.seq ? callEventOf(m) : null;
      if (event) this.calls.onEvent(m, event);
    }
    if (gap) this.#pull(gap);
    this.#readOpen();
    const touched = new Set(messages.map((m) => m.conversation));
    for (const c of touched) this.#changed(c);
  }

  /** Marks recall events (m.recall, applied by the state) and forgets download URLs of what they recall. */
  #decodeRecalls(messages) {
    for (const m of messages) {
      const recall = recallEventOf(m);
      if (recall) {
        m.recall = recall;
        this.downloads.delete(`${m.conversation}/${recall.seq}`);
      }
    }
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

  // ------------------------------------------------------------------------------------------------ receipts

  #restoreReceipts() {
    try {
      const kept = this.options.storage?.getItem(receiptsKey(this.state.me));
      if (kept) this.state.restoreReceipts(JSON.parse(kept));
    } catch (e) {
      console.warn('parley: kept read receipts unreadable; starting without them', e);
    }
  }

  #receiptsChanged() {
    if (!this.options.storage || this.receiptsTimer) return;
    this.receiptsTimer = setTimeout(() => this.saveReceipts(), RECEIPTS_SAVE_MS);
  }

  /** Writes the group read receipts to storage now (the page calls it when it goes away). */
  saveReceipts() {
    clearTimeout(this.receiptsTimer);
    this.receiptsTimer = null;
    try {
      this.options.storage?.setItem(receiptsKey(this.state.me), JSON.stringify(this.state.receipts()));
    } catch (e) {
      console.warn('parley: read receipts not kept (storage full or unavailable)', e);
    }
  }

  // ------------------------------------------------------------------------------------------------ actions

  #newClientMsgId() {
    return `w${Date.now().toString(36)}-${(this.counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  }

  /** Sends a message of a type in messageTypes to a peer (user id) or a conversation id. */
  send({ peer, conversation, type = 'text', content }) {
    const composer = messageTypes[type]?.compose;
    if (!composer) throw new Error(`cannot send messages of type ${type}`);
    const conv = conversation ?? directConversation(this.state.me, peer);
    const clientMsgId = this.#newClientMsgId();
    const body = composer(content);
    this.state.addPending(conv, { clientMsgId, conversation: conv, sender: this.state.me, type, body,
      serverTime: Date.now() });
    this.#queue({ clientMsgId, type, body, ...(peer ? { peer } : { conversation: conv }) }, conv);
    return clientMsgId;
  }

  #queue(send, conv) {
    this.outbox.set(send.clientMsgId, send);
    this.#changed(conv);
    if (this.connection.online) this.#transmit(send);
  }

  /**
   * Sends a file the user chose (a File or Blob with name, size, type): as `image` when its type is in IMAGE_TYPES,
   * else as `file` (docs/protocol.md §6e). It shows at once as a pending message whose `upload` {name, size,
   * contentType, loaded} follows the upload; asks file.upload for a ticket, reads the file into memory and hashes
   * it (SHA-256), uploads it in chunks (resuming after a failed one), then sends the message like any other. A
   * refusal (QUOTA_EXCEEDED, BODY_TOO_LARGE, …) fails the message with the server's error.
   * @returns {clientMsgId, done} done settles when the message is queued for sending (or failed)
   */
  sendFile({ peer, conversation, file }) {
    const conv = conversation ?? directConversation(this.state.me, peer);
    const clientMsgId = this.#newClientMsgId();
    const type = kindOf(file.type);
    const upload = { name: safeName(file.name), size: file.size, contentType: contentTypeOf(file.type), loaded: 0 };
    this.state.addPending(conv, { clientMsgId, conversation: conv, sender: this.state.me, type, upload,
      serverTime: Date.now() });
    this.#changed(conv);
    const onProgress = (loaded) => {
      upload.loaded = loaded;
      this.#changed(conv);
    };
    const done = this.#upload(file, upload, onProgress).then((stored) => {
      const body = messageTypes[type].compose(stored);
      this.state.updatePending(clientMsgId, { body, upload: undefined });
      this.#queue({ clientMsgId, type, body, ...(peer ? { peer } : { conversation: conv }) }, conv);
    }, (e) => {
      const c = this.state.fail(clientMsgId, describeError(e));
      this.#changed(c?.id);
    });
    return { clientMsgId, done };
  }

  /**
   * Sends a voice message recorded in the page (recorder.js): {blob, contentType, durationMs, waveform}. Shown at once
   * as a pending message with an upload progress; uploaded like a file (file.upload, /blobs/), then sent as `voice`.
   * @returns {clientMsgId, done}
   */
  sendVoice({ peer, conversation, recording }) {
    const r = recording;
    return this.#sendRecording({ peer, conversation, type: 'voice', recording: r,
      parts: [{ blob: r.blob, name: fileNameFor('voice', r.contentType), contentType: r.contentType }],
      shown: { durationMs: r.durationMs, size: r.blob.size, contentType: r.contentType, waveform: r.waveform },
      compose: ([clip]) => ({ ...clip, durationMs: r.durationMs, waveform: r.waveform }) });
  }

  /**
   * Sends a video message recorded in the page: {blob, contentType, durationMs, width, height, poster: {blob,
   * contentType, width, height} | null}. The clip and its poster are two uploads, then one `video` message.
   * @returns {clientMsgId, done}
   */
  sendVideo({ peer, conversation, recording }) {
    const r = recording;
    const parts = [{ blob: r.blob, name: fileNameFor('video', r.contentType), contentType: r.contentType }];
    if (r.poster) parts.push({ blob: r.poster.blob, name: fileNameFor('poster', r.poster.contentType),
      contentType: r.poster.contentType });
    return this.#sendRecording({ peer, conversation, type: 'video', recording: r, parts,
      shown: { durationMs: r.durationMs, size: r.blob.size, contentType: r.contentType, width: r.width,
        height: r.height },
      compose: ([clip, poster]) => ({ ...clip, durationMs: r.durationMs, width: r.width, height: r.height,
        ...(poster ? { posterKey: poster.key, posterSize: poster.size, posterSha256: poster.sha256,
          posterContentType: poster.contentType, posterWidth: r.poster.width, posterHeight: r.poster.height } : {}) }) });
  }

  /** Uploads the parts one after another (progress over all of them), then sends one message composed of them. */
  #sendRecording({ peer, conversation, type, parts, shown, compose }) {
    const conv = conversation ?? directConversation(this.state.me, peer);
    const clientMsgId = this.#newClientMsgId();
    const total = parts.reduce((n, p) => n + p.blob.size, 0);
    const upload = { name: parts[0].name, size: total, contentType: parts[0].contentType, loaded: 0 };
    this.state.addPending(conv, { clientMsgId, conversation: conv, sender: this.state.me, type, upload,
      recording: shown, serverTime: Date.now() });
    this.#changed(conv);
    const done = (async () => {
      const stored = [];
      let before = 0;
      for (const p of parts) {
        const part = { name: p.name, size: p.blob.size, contentType: p.contentType, loaded: 0 };
        stored.push(await this.#upload(p.blob, part, (loaded) => {
          upload.loaded = before + loaded;
          this.#changed(conv);
        }));
        before += p.blob.size;
      }
      return stored;
    })().then((stored) => {
      const body = messageTypes[type].compose(compose(stored));
      this.state.updatePending(clientMsgId, { body, upload: undefined, recording: undefined });
      this.#queue({ clientMsgId, type, body, ...(peer ? { peer } : { conversation: conv }) }, conv);
    }, (e) => {
      const c = this.state.fail(clientMsgId, describeError(e));
      this.#changed(c?.id);
    });
    return { clientMsgId, done };
  }

  /** @returns the File fields {key, name, size, contentType, sha256} of the completed upload (images: width, height) */
  async #upload(file, upload, onProgress) {
    if (!file.size) throw new Error('the file is empty');
    const answer = await this.#command(FILE_UPLOAD_COMMAND,
      uploadRequestPayload({ name: upload.name, size: upload.size, contentType: upload.contentType }), true);
    const ticket = uploadTicketOf(answer.payload);
    if (!ticket) throw new Error('the server answered file.upload with something else than a ticket');
    const target = new URL(ticket.uploadUrl, this.options.pageOrigin ?? undefined).origin;
    if (this.options.pageOrigin && target !== this.options.pageOrigin) {
      throw new UploadError('CROSS_ORIGIN', `uploads go to ${target}, which this page (${this.options.pageOrigin}) `
        + 'may not reach: open the page there, or set public.url in conf/parley.blob.cfg to this address');
    }
    // WebCrypto hashes one buffer: the file is read into memory whole (at most the server's upload.max.bytes)
    const bytes = new Uint8Array(await file.arrayBuffer());
    const sha256 = await sha256Hex(bytes);
    const result = await uploadBytes({ bytes, ticket, http: this.options.http, onProgress,
      ...(this.options.sleep ? { sleep: this.options.sleep } : {}) });
    if (result.sha256 && result.sha256 !== sha256) {
      throw new Error(`the server stored other bytes than this file (sha256 ${result.sha256}, not ${sha256})`);
    }
    return { key: ticket.key, name: upload.name, size: upload.size, contentType: ticket.contentType || upload.contentType,
      sha256, ...(kindOf(upload.contentType) === 'image' ? await dimensionsOf(file) : {}) };
  }

  /**
   * Runs a command, again after a pause when the answer is a retryable error (offline, busy), a few times; with
   * `keyed`, every attempt carries one client_request_id (the server answers a repeat as the first).
   */
  async #command(type, payload, keyed = false) {
    const key = keyed ? { clientRequestId: `wc${Date.now().toString(36)}-${this.counter++}` } : {};
    const sleep = this.options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.connection.request({ command: { type, payload, ...key } })).commandResult;
      } catch (e) {
        if (!(e instanceof ParleyError) || !e.retryable || attempt >= COMMAND_ATTEMPTS) throw e;
        await sleep(Math.max(500 * attempt, e.retryAfterMs || 0));
      }
    }
  }

  /**
   * @returns the DownloadTicket {url, thumbnailUrl, expiresAt} of the file or image message at seq: asked with
   *          file.download once and reused until shortly before it expires (forgotten when the message is recalled)
   */
  download(conversationId, seq) {
    const key = `${conversationId}/${seq}`;
    const known = this.downloads.get(key);
    if (known && known.expiresAt - URL_MARGIN_MS > Date.now()) return known.promise;
    const entry = { expiresAt: Infinity };
    entry.promise = this.#command(FILE_DOWNLOAD_COMMAND, downloadRequestPayload(conversationId, seq)).then((r) => {
      const ticket = downloadTicketOf(r.payload);
      if (!ticket?.url) throw new Error('the server answered file.download without a URL');
      entry.expiresAt = localExpiry(ticket.expiresAt, Date.now());
      return ticket;
    });
    entry.promise.catch(() => { if (this.downloads.get(key) === entry) this.downloads.delete(key); });
    this.downloads.set(key, entry);
    return entry.promise;
  }

  /**
   * @returns the StickerCatalog: asked with sticker.list after sign-in and again when its URLs are about to expire;
   *          a server without the sticker bundle gives an empty one (with the error), not asked again until the
   *          next sign-in
   */
  stickers() {
    const now = Date.now();
    if (!this.catalog.stale(now, URL_MARGIN_MS) || now < this.catalogRetryAt) return Promise.resolve(this.catalog);
    if (this.catalogRequest) return this.catalogRequest;
    this.catalogRequest = this.connection.request({ command: { type: STICKER_LIST_COMMAND,
      payload: stickerListPayload() } }).then((frame) => {
      this.catalog = new StickerCatalog(stickerCatalogOf(frame.commandResult.payload));
      return this.catalog;
    }, (e) => {
      if (e instanceof ParleyError && e.retryable) {
        this.catalogRetryAt = Date.now() + CATALOG_RETRY_MS;
        throw e;
      }
      this.catalog = new StickerCatalog(null, describeError(e));
      this.catalog.expiresAt = Infinity;
      return this.catalog;
    }).finally(() => {
      this.catalogRequest = null;
      this.#changed();
    });
    return this.catalogRequest;
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

  /** Shows no conversation (the list, on a narrow screen): nothing is marked read until one is opened again. */
  close() {
    this.openConversation = null;
    this.#changed();
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
    this.#decodeRecalls(r.messages);
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
    this.downloads.delete(`${conversationId}/${seq}`);
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

  /** Hands the group to another member (owner only; the owner becomes an admin and may then leave). */
  transferOwnership(conversationId, newOwner) {
    return this.#groupOp({ transfer: { groupId: groupIdOf(conversationId), newOwner } });
  }

  /** The server side of CallManager: the call.* commands of docs/protocol.md §6i, answers decoded. */
  #callApi() {
    const run = async (type, payload) => (await this.connection.request({ command: { type, payload } })).commandResult;
    return {
      start: async (to) => callStartedOf((await run(CALL_COMMANDS.start, callStartPayload(to))).payload),
      join: async (callId) => callJoinedOf((await run(CALL_COMMANDS.join, callJoinPayload(callId))).payload),
      reject: async (callId) => callUpdateOf((await run(CALL_COMMANDS.reject, callRejectPayload(callId))).payload),
      hangup: async (callId) => callUpdateOf((await run(CALL_COMMANDS.hangup, callHangupPayload(callId))).payload),
      signal: (s) => run(CALL_COMMANDS.signal, callSignalPayload(s)),
    };
  }

  /** Places a call to a peer (user id) or a conversation; media 'AUDIO' or 'VIDEO'. @see CallManager.start */
  call({ peer, conversation, media }) {
    return this.calls.start({ peer, conversation, media });
  }

  /** Drops the connection as a network failure would; the client reconnects and resumes. */
  reconnect() {
    this.connection.drop();
  }
}
