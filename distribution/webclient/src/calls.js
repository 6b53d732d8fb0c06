// Voice and video calls (docs/protocol.md §6i) without the DOM: what a call event means for this device (ring, stop
// ringing, end the call), the call log line it shows as, and the WebRTC mesh — one RTCPeerConnection per other user in
// the call, offers from the joiner, answers from the devices already in, ICE candidates relayed with call.signal.
//
// Contract: CallManager is driven by the ChatClient on the page's one thread: onEvent(message, event) for every stored
// `call` message it receives (live, resume, history; any order: an event older than one already seen for its call
// changes nothing), onSignal(message, signal) for every relayed `call.signal`. The server is reached through an
// injected `api` (start/join/reject/hangup/signal, promises of the plain answers of §6i), the browser's media through
// injected `getUserMedia` and `createPeerConnection`, so the logic runs under node with stand-ins. `onChange()` is
// called after every change of `ringing()`, `current` or `notice`. One call at a time per device.
import { formatDuration } from './media.js';

/** Call states that end a call in every conversation; REJECTED ends 1:1 calls only (see isTerminal). */
const TERMINAL = new Set(['BUSY', 'CANCELLED', 'MISSED', 'ENDED']);

/** A RINGING event older than this (by started_at) does not ring any more (the server's ring.timeout.seconds: 30). */
export const RING_MAX_AGE_MS = 30_000;

/** @returns true when the event ends its call: BUSY, CANCELLED, MISSED, ENDED, and REJECTED of a 1:1 call */
export function isTerminal(event, conversation) {
  return TERMINAL.has(event.state) || (event.state === 'REJECTED' && String(conversation).startsWith('d:'));
}

const mediaWord = (media) => (media === 'VIDEO' ? 'Video' : 'Voice');

/**
 * How a call event shows in the conversation (docs/web-client.md): terminal states as a call log line, RINGING and
 * ACCEPTED only in the conversation list's preview (`hidden` in the timeline).
 *
 * @param event        the CallEvent {state, media, initiator, by, durationMs, reason}
 * @param me           this client's user
 * @param conversation the event's conversation (groups name who declined; in a 1:1 call a decline ends it)
 * @returns {text, hidden}
 */
export function callLogLine(event, me, conversation = 'd:') {
  const group = String(conversation).startsWith('g:');
  switch (event.state) {
    case 'RINGING':
      return { text: event.initiator === me ? `📞 Outgoing ${mediaWord(event.media).toLowerCase()} call`
        : `📞 Incoming ${mediaWord(event.media).toLowerCase()} call from ${event.initiator}`, hidden: true };
    case 'ACCEPTED':
      return { text: `📞 ${event.by === me ? 'You' : event.by} answered`, hidden: true };
    case 'ENDED':
      return { text: `📞 ${mediaWord(event.media)} call · ${formatDuration(event.durationMs)}`, hidden: false };
    case 'MISSED':
      return { text: '📞 Missed call', hidden: false };
    case 'CANCELLED':
      return { text: '📞 Cancelled', hidden: false };
    case 'REJECTED':
      return { text: group ? `📞 ${event.by === me ? 'You' : event.by} declined` : '📞 Declined', hidden: false };
    case 'BUSY':
      return { text: '📞 Busy', hidden: false };
    default:
      return { text: '📞 Call', hidden: true };
  }
}

/** @returns the RTCConfiguration of a call: its ICE servers (empty fields left out) and the transport policy */
export function rtcConfiguration(iceServers, iceTransportPolicy = 'all') {
  return {
    iceServers: (iceServers || []).filter((s) => s.urls && s.urls.length).map((s) => ({
      urls: s.urls,
      ...(s.username ? { username: s.username } : {}),
      ...(s.credential ? { credential: s.credential } : {}),
    })),
    iceTransportPolicy: iceTransportPolicy === 'relay' ? 'relay' : 'all',
  };
}

/**
 * @returns the candidate type ("host", "srflx", "prflx", "relay") of the local end of the pair the connection uses,
 *          from RTCPeerConnection.getStats(), or '' when none is selected yet
 */
export function selectedRoute(stats) {
  const byId = new Map();
  stats.forEach((s) => byId.set(s.id, s));
  let pair = null;
  for (const s of byId.values()) {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
  }
  if (!pair) {
    for (const s of byId.values()) if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) pair = s;
  }
  const local = pair && byId.get(pair.localCandidateId);
  return local?.candidateType ?? '';
}

export class CallManager {
  /**
   * @param options.me                   the signed-in user
   * @param options.deviceId             this device
   * @param options.api                  {start({peer?, conversation?, media}) → CallStarted, join(callId) → CallJoined,
   *                                     reject(callId), hangup(callId), signal({callId, toUser, toDevice, kind, data,
   *                                     token})}: promises; a refusal rejects with the server's error
   * @param options.getUserMedia         (constraints) → Promise<MediaStream>
   * @param options.createPeerConnection (RTCConfiguration) → RTCPeerConnection
   * @param options.iceTransportPolicy   'all' (default) or 'relay' (TURN only: config.json or ?ice=relay)
   * @param options.onChange             () → void
   * @param options.now                  () → epoch ms
   */
  constructor(options) {
    this.options = { now: () => Date.now(), iceTransportPolicy: 'all', ringMaxAgeMs: RING_MAX_AGE_MS,
      onChange: () => {}, log: (...a) => console.warn('parley call:', ...a), ...options };
    this.me = options.me;
    this.deviceId = options.deviceId;
    this.known = new Map();     // callId -> {seq, state}: the latest event seen of each call
    this.incoming = new Map();  // callId -> {callId, conversation, media, initiator, startedAt}: ringing here
    this.current = null;        // the call this device is in (or placing, or joining)
    this.notice = '';           // the last thing to tell the user about a call ("bob is busy", "Video call · 1:23")
    this.noticeId = 0;          // raised with every notice (the same text may come twice)
  }

  #changed() {
    this.options.onChange();
  }

  /** @returns the calls ringing on this device, oldest first (stale ones dropped) */
  ringing() {
    const now = this.options.now();
    for (const [id, c] of this.incoming) {
      if (now - c.startedAt > this.options.ringMaxAgeMs + 30_000) this.incoming.delete(id);
    }
    return [...this.incoming.values()];
  }

  // ------------------------------------------------------------------------------------------------ events

  /** A stored call event (message of type `call`; event = its CallEvent). */
  onEvent(message, event) {
    const id = event.callId;
    const seq = Number(message.seq) || 0;
    const prev = this.known.get(id);
    if (prev && prev.seq >= seq) return;
    this.known.set(id, { seq, state: event.state });
    const call = this.current?.callId === id ? this.current : null;
    switch (event.state) {
      case 'RINGING': {
        const age = this.options.now() - Number(event.startedAt || message.serverTime || 0);
        if (event.initiator !== this.me && (event.invited || []).includes(this.me) && !call
          && age < this.options.ringMaxAgeMs) {
          this.incoming.set(id, { callId: id, conversation: message.conversation, media: event.media,
            initiator: event.initiator, startedAt: Number(event.startedAt) || this.options.now() });
        }
        break;
      }
      case 'ACCEPTED':
        if (event.by === this.me) this.incoming.delete(id);
        if (call) {
          if (call.acceptedAt === null) call.acceptedAt = Number(message.serverTime) || this.options.now();
          if (call.phase === 'ringing') call.phase = 'connecting';
        }
        break;
      case 'REJECTED':
        if (event.by === this.me) this.incoming.delete(id);
        break;
      default:
        break;
    }
    if (isTerminal(event, message.conversation)) {
      this.incoming.delete(id);
      if (call) this.#teardown(callLogLine(event, this.me, message.conversation).text.replace(/^📞 /, ''));
    }
    this.#changed();
  }

  /** A relayed call.signal (signal = its Signal {callId, fromUser, fromDevice, kind, data}). */
  onSignal(message, signal) {
    const call = this.current;
    if (!call || call.callId !== signal.callId) {
      this.options.log(`a ${signal.kind} for call ${signal.callId}, which this device is not in`);
      return;
    }
    const { fromUser: user, fromDevice: device, kind, data } = signal;
    if (kind === 'BYE') {
      if (user === this.me) {
        // another device of this user joined the call and replaced this one: leave without hanging up
        this.#teardown('Answered on another device');
      } else {
        const peer = call.peers.get(user);
        if (peer && peer.device === device) this.#closePeer(call, peer);
      }
      this.#changed();
      return;
    }
    if (kind === 'OFFER' || kind === 'RENEGOTIATE') {
      let peer = call.peers.get(user);
      if (peer && (peer.device !== device || kind === 'OFFER')) {
        // a new connection from that user (a rejoin, or another of its devices): it replaces the old one
        this.#closePeer(call, peer);
        peer = null;
      }
      if (!peer) peer = this.#newPeer(call, user, device, 'answerer');
      this.#serially(peer, async () => {
        await peer.pc.setRemoteDescription({ type: 'offer', sdp: data });
        await this.#flushRemoteCandidates(peer);
        await peer.pc.setLocalDescription(await peer.pc.createAnswer());
        this.#signal(call, peer, 'ANSWER', peer.pc.localDescription.sdp);
        this.#described(call, peer);
      });
      return;
    }
    const peer = call.peers.get(user);
    if (!peer || peer.device !== device) {
      this.options.log(`a ${kind} from ${user}/${device}, which this device has no connection with`);
      return;
    }
    if (kind === 'ANSWER') {
      this.#serially(peer, async () => {
        await peer.pc.setRemoteDescription({ type: 'answer', sdp: data });
        await this.#flushRemoteCandidates(peer);
      });
    } else if (kind === 'CANDIDATE' && data) {
      let candidate;
      try {
        candidate = JSON.parse(data);
      } catch (e) {
        this.options.log(`an unreadable candidate from ${user}/${device}`);
        return;
      }
      this.#serially(peer, async () => {
        if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(candidate);
        else peer.remoteCandidates.push(candidate);
      });
    }
  }

  // ------------------------------------------------------------------------------------------------ actions

  /**
   * Places a call (call.start) to a peer (user id) or a conversation: asks for the microphone (and camera) first.
   * @returns the CallStarted answer (busy = true: the peer is in another call; nothing to do but show it)
   */
  async start({ peer, conversation, media = 'AUDIO' }) {
    if (this.current) throw new Error('you are already in a call: hang up first');
    const call = this.#newCall({ callId: '', conversation, media, initiator: this.me, role: 'caller',
      phase: 'starting' });
    this.current = call;
    this.notice = '';
    this.#changed();
    try {
      call.localStream = await this.#localMedia(media);
      const r = await this.options.api.start(peer ? { peer, media } : { conversation, media });
      if (this.current !== call) {
        // hung up while the start was on its way
        if (!r.busy) this.options.api.hangup(r.callId).catch((e) => this.options.log('hangup failed', e));
        return r;
      }
      call.callId = r.callId;
      if (r.conversation) call.conversation = r.conversation;
      if (r.busy) {
        this.#teardown(`${peer ?? 'they'} ${peer ? 'is' : 'are'} busy`);
        return r;
      }
      call.token = r.token;
      call.iceServers = r.iceServers || [];
      call.phase = 'ringing';
      const known = this.known.get(r.callId);
      if (known && known.state === 'ACCEPTED') call.phase = 'connecting';
      this.#changed();
      return r;
    } catch (e) {
      if (this.current === call) this.#teardown(`Could not call: ${e.message || e}`);
      throw e;
    }
  }

  /** Answers a ringing call on this device (call.join), then offers a connection to every device in the call. */
  async accept(callId) {
    const ring = this.incoming.get(callId);
    if (!ring) throw new Error('that call is not ringing here any more');
    if (this.current) throw new Error('you are already in a call: hang up first');
    this.incoming.delete(callId);
    const call = this.#newCall({ callId, conversation: ring.conversation, media: ring.media, initiator: ring.initiator,
      role: 'callee', phase: 'joining' });
    this.current = call;
    this.notice = '';
    this.#changed();
    try {
      call.localStream = await this.#localMedia(ring.media);
      const r = await this.options.api.join(callId);
      if (this.current !== call) {
        this.options.api.hangup(callId).catch((e) => this.options.log('hangup failed', e));
        return;
      }
      this.#joined(call, r);
    } catch (e) {
      if (this.current === call) this.#teardown(`Could not join: ${e.message || e}`);
      throw e;
    }
  }

  /**
   * After a reconnect: joins the current call again (a fresh token; the server keeps the device in the call during
   * its leave grace) and offers new connections to everyone in it, which replace the old ones.
   */
  async rejoin() {
    const call = this.current;
    if (!call || !call.callId || call.phase === 'starting' || call.phase === 'joining') return;
    try {
      const r = await this.options.api.join(call.callId);
      if (this.current !== call) return;
      for (const peer of [...call.peers.values()]) this.#closePeer(call, peer);
      this.#joined(call, r);
    } catch (e) {
      if (this.current === call) this.#teardown(`The call was lost: ${e.message || e}`);
    }
  }

  #joined(call, r) {
    call.token = r.token;
    call.iceServers = r.iceServers || [];
    if (r.conversation) call.conversation = r.conversation;
    if (call.phase === 'joining') call.phase = 'connecting';
    // the mesh rule: the joiner offers to every device already in the call
    for (const p of r.participants || []) {
      if (p.user === this.me) continue;
      const peer = this.#newPeer(call, p.user, p.device, 'offerer');
      this.#serially(peer, async () => {
        await peer.pc.setLocalDescription(await peer.pc.createOffer());
        this.#signal(call, peer, 'OFFER', peer.pc.localDescription.sdp);
        this.#described(call, peer);
      });
    }
    this.#changed();
  }

  /** Declines a ringing call (call.reject); the user's other devices stop ringing when they see the event. */
  async reject(callId) {
    this.incoming.delete(callId);
    this.#changed();
    await this.options.api.reject(callId);
  }

  /** Leaves (or cancels) the current call: media and connections stop at once, then call.hangup tells the server. */
  async hangup() {
    const call = this.current;
    if (!call) return;
    this.#teardown('Call ended');
    if (call.callId) await this.options.api.hangup(call.callId);
  }

  /** Mutes or unmutes this device's microphone ('audio') or camera ('video') in the current call. */
  setMuted(kind, muted) {
    const call = this.current;
    if (!call?.localStream) return;
    for (const t of call.localStream.getTracks()) if (t.kind === kind) t.enabled = !muted;
    call.muted[kind] = muted;
    this.#changed();
  }

  /** Sign-out: ends everything here without telling the server (its leave grace ends the call). */
  stopAll() {
    this.incoming.clear();
    if (this.current) this.#teardown('');
  }

  // ------------------------------------------------------------------------------------------------ internals

  #newCall(fields) {
    return { token: '', iceServers: [], localStream: null, peers: new Map(), acceptedAt: null, connectedAt: null,
      muted: { audio: false, video: false }, ...fields };
  }

  /** Microphone (and camera for a video call); a video call goes on with sound only when there is no camera. */
  async #localMedia(media) {
    const get = this.options.getUserMedia;
    if (media === 'VIDEO') {
      try {
        return await get({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } });
      } catch (e) {
        this.options.log('no camera, going on with sound only', e);
      }
    }
    return get({ audio: true });
  }

  #newPeer(call, user, device, role) {
    const pc = this.options.createPeerConnection(rtcConfiguration(call.iceServers, this.options.iceTransportPolicy));
    const peer = { user, device, role, pc, stream: null, state: 'new', route: '', described: false,
      localCandidates: [], remoteCandidates: [], chain: Promise.resolve() };
    call.peers.set(user, peer);
    if (call.localStream) for (const t of call.localStream.getTracks()) pc.addTrack(t, call.localStream);
    pc.onicecandidate = (e) => {
      if (!e.candidate || call.peers.get(user) !== peer) return;
      const json = JSON.stringify(typeof e.candidate.toJSON === 'function' ? e.candidate.toJSON() : e.candidate);
      // candidates go after the offer or answer (the receiver needs the description first)
      if (peer.described) this.#signal(call, peer, 'CANDIDATE', json);
      else peer.localCandidates.push(json);
    };
    pc.ontrack = (e) => {
      peer.stream = e.streams?.[0] ?? peer.stream ?? new globalThis.MediaStream([e.track]);
      this.#changed();
    };
    pc.onconnectionstatechange = () => {
      if (call.peers.get(user) !== peer) return;
      peer.state = pc.connectionState;
      if (peer.state === 'connected') {
        if (call.connectedAt === null) call.connectedAt = this.options.now();
        call.phase = 'connected';
        this.#probeRoute(peer);
      }
      this.#changed();
    };
    return peer;
  }

  /** Reads which kind of candidate the connection settled on (a few tries: the stats may lag the state). */
  async #probeRoute(peer, tries = 5) {
    try {
      peer.route = selectedRoute(await peer.pc.getStats());
      if (!peer.route && tries > 1 && !peer.closed) {
        setTimeout(() => this.#probeRoute(peer, tries - 1), 500);
        return;
      }
      this.#changed();
    } catch (e) {
      this.options.log('no stats', e);
    }
  }

  /** Runs the peer's signalling steps one after another (a candidate waits for the description before it). */
  #serially(peer, step) {
    peer.chain = peer.chain.then(step).catch((e) => this.options.log(`signalling with ${peer.user} failed`, e));
  }

  async #flushRemoteCandidates(peer) {
    const waiting = peer.remoteCandidates.splice(0);
    for (const c of waiting) await peer.pc.addIceCandidate(c);
  }

  #described(call, peer) {
    peer.described = true;
    for (const json of peer.localCandidates.splice(0)) this.#signal(call, peer, 'CANDIDATE', json);
  }

  #signal(call, peer, kind, data) {
    if (this.current !== call) return; // the call ended while this step was under way
    this.options.api.signal({ callId: call.callId, toUser: peer.user, toDevice: peer.device, kind, data,
      token: call.token }).catch((e) => this.options.log(`${kind} to ${peer.user}/${peer.device} failed`, e));
  }

  #closePeer(call, peer) {
    peer.closed = true;
    if (call.peers.get(peer.user) === peer) call.peers.delete(peer.user);
    try {
      peer.pc.close();
    } catch (e) { /* closed already */ }
  }

  #teardown(notice) {
    const call = this.current;
    this.current = null;
    if (!call) return;
    for (const peer of [...call.peers.values()]) this.#closePeer(call, peer);
    for (const t of call.localStream?.getTracks() ?? []) t.stop();
    this.notice = notice;
    this.noticeId++;
    this.#changed();
  }
}
