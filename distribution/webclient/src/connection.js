// One logical connection to a Parley server over the WebSocket transport, reconnecting with backoff.
//
// Contract: after every successful hello, `onReady(helloOk)` runs; frames the server initiates (deliver, read updates,
// notices...) go to `onPush(frame)`; `request()` answers with the response frame carrying the same request id, or
// rejects with a ParleyError (server Error frame), or with a retryable ParleyError when the connection drops or the
// request times out. Requests are never re-sent here: the caller decides (sends are idempotent by client_msg_id).
// Fatal outcomes (bad or expired token, kicked, protocol version) stop reconnecting and reach `onFatal(error)`.
import { decodeFrame, encodeFrame, PROTOCOL_VERSION } from './wire.js';

export class ParleyError extends Error {
  constructor(code, message, retryable = false, retryAfterMs = 0) {
    super(message);
    this.code = code;
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
  }
}

const FATAL = new Set(['ERROR_CODE_UNAUTHENTICATED', 'ERROR_CODE_TOKEN_EXPIRED', 'ERROR_CODE_PROTOCOL_VERSION']);

export class Connection {
  /**
   * @param options {url, token, deviceId, onReady, onPush, onStatus, onFatal, requestTimeoutMs?, backoffMaxMs?}
   *        onStatus(status, detail) with status 'connecting' | 'online' | 'offline'
   */
  constructor(options) {
    this.options = { requestTimeoutMs: 15000, backoffInitialMs: 300, backoffMaxMs: 10000, ...options };
    this.ws = null;
    this.nextRequestId = 1;
    this.inflight = new Map(); // requestId -> {resolve, reject, timer}
    this.ready = false;
    this.stopped = false;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
  }

  start() {
    this.stopped = false;
    this.#connect();
  }

  /** Closes for good; pending requests fail. */
  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.#teardown('stopped');
  }

  /** Drops the socket (as a network failure would) and reconnects after the backoff. For tests and "go offline". */
  drop() {
    if (this.ws) this.ws.close(4000, 'client reconnect');
  }

  get online() {
    return this.ready;
  }

  /** Sends a request frame (everything but requestId) and resolves with the response frame. */
  request(frame) {
    if (!this.ready) {
      return Promise.reject(new ParleyError('OFFLINE', 'not connected', true));
    }
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inflight.delete(requestId);
        reject(new ParleyError('TIMEOUT', 'no answer from the server', true));
      }, this.options.requestTimeoutMs);
      this.inflight.set(requestId, { resolve, reject, timer });
      this.#write({ ...frame, requestId });
    });
  }

  /** Sends a frame that has no response (deliver_ack, mark_read, typing); dropped when offline. */
  post(frame) {
    if (this.ready) this.#write({ ...frame, requestId: this.nextRequestId++ });
  }

  #write(frame) {
    this.ws.send(encodeFrame(frame));
  }

  #connect() {
    const o = this.options;
    o.onStatus?.('connecting', this.attempt > 0 ? `attempt ${this.attempt + 1}` : '');
    let ws;
    try {
      ws = new WebSocket(o.url);
    } catch (e) {
      this.#scheduleReconnect(`bad server address: ${e.message}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      const helloId = this.nextRequestId++;
      this.inflight.set(helloId, {
        resolve: (frame) => this.#onHelloOk(frame.helloOk),
        reject: (e) => this.#onHelloFailed(e),
        timer: null,
      });
      this.#write({ requestId: helloId, hello: { protocolVersion: PROTOCOL_VERSION, token: o.token,
        deviceId: o.deviceId, client: 'parley-web/0.1.0' } });
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = decodeFrame(event.data);
      } catch (e) {
        console.error('parley: undecodable frame from the server', e);
        ws.close(4001, 'bad frame');
        return;
      }
      this.#onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.#teardown(`closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
      if (!this.stopped) this.#scheduleReconnect(`connection closed (${event.code})`);
    };
    ws.onerror = () => { /* onclose follows and reconnects */ };
  }

  #onFrame(frame) {
    const pending = frame.requestId ? this.inflight.get(frame.requestId) : undefined;
    if (pending) {
      this.inflight.delete(frame.requestId);
      clearTimeout(pending.timer);
      if (frame.op === 'error') {
        const e = frame.error;
        pending.reject(new ParleyError(e.code, e.message, e.retryable, e.retryAfterMs));
      } else {
        pending.resolve(frame);
      }
      return;
    }
    if (frame.op === 'error' && FATAL.has(frame.error.code)) {
      this.#fatal(new ParleyError(frame.error.code, frame.error.message));
      return;
    }
    if (frame.op === 'notice') {
      this.#onNotice(frame.notice);
      return;
    }
    if (frame.op === 'pong') return;
    this.options.onPush?.(frame);
  }

  #onHelloOk(helloOk) {
    this.ready = true;
    this.attempt = 0;
    const heartbeatMs = Math.max(5, helloOk.heartbeatSeconds || 30) * 1000;
    this.pingTimer = setInterval(() => this.post({ ping: { clientTime: Date.now() } }), heartbeatMs * 0.8);
    this.options.onStatus?.('online', '');
    this.options.onReady?.(helloOk);
  }

  #onHelloFailed(e) {
    if (FATAL.has(e.code)) this.#fatal(e);
    else this.drop();
  }

  #onNotice(notice) {
    if (notice.kind === 'KIND_KICKED') {
      this.#fatal(new ParleyError('KICKED', notice.text || 'signed out by the server'));
      return;
    }
    if (notice.kind === 'KIND_TOKEN_EXPIRED') {
      // the page holds one pasted token and cannot mint another: sign in again
      this.#fatal(new ParleyError('TOKEN_EXPIRED', notice.text || 'the token expired; sign in with a fresh one'));
      return;
    }
    // RECONNECT and SLOW_CONSUMER: the server closes the connection; reconnect after the delay it asks for
    this.noticeDelayMs = notice.reconnectAfterMs || 0;
  }

  #fatal(error) {
    this.stopped = true;
    this.#teardown(error.message);
    this.options.onFatal?.(error);
  }

  #teardown(reason) {
    const wasReady = this.ready;
    this.ready = false;
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000, 'bye');
    for (const [, p] of this.inflight) {
      clearTimeout(p.timer);
      p.reject(new ParleyError('OFFLINE', `connection lost: ${reason}`, true));
    }
    this.inflight.clear();
    if (wasReady || !this.stopped) this.options.onStatus?.('offline', reason);
  }

  #scheduleReconnect(reason) {
    const o = this.options;
    const exp = Math.min(o.backoffMaxMs, o.backoffInitialMs * 2 ** Math.min(this.attempt, 10));
    const delay = Math.max(this.noticeDelayMs || 0, Math.round(exp / 2 + Math.random() * exp / 2));
    this.noticeDelayMs = 0;
    this.attempt++;
    o.onStatus?.('offline', `${reason}; retrying in ${(delay / 1000).toFixed(1)} s`);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.stopped) this.#connect();
    }, delay);
  }
}
