// calls.js: call events → log lines and ringing; the mesh signalling against stand-in peer connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallManager, callLogLine, isTerminal, rtcConfiguration, selectedRoute } from '../src/calls.js';

test('call events as call log lines: terminal states shown, ringing and answering only in previews', () => {
  const e = (state, extra = {}) => ({ callId: 'c1', state, media: 'VIDEO', initiator: 'alice', by: 'bob',
    durationMs: 0, ...extra });
  assert.deepEqual(callLogLine(e('ENDED', { durationMs: 83_400 }), 'bob'), { text: '📞 Video call · 1:23', hidden: false });
  assert.equal(callLogLine(e('ENDED', { media: 'AUDIO', durationMs: 5000 }), 'bob').text, '📞 Voice call · 0:05');
  assert.equal(callLogLine(e('MISSED', { by: '' }), 'bob').text, '📞 Missed call');
  assert.equal(callLogLine(e('CANCELLED', { by: 'alice' }), 'bob').text, '📞 Cancelled');
  assert.equal(callLogLine(e('REJECTED'), 'alice', 'd:alice:bob').text, '📞 Declined');
  assert.equal(callLogLine(e('REJECTED'), 'alice', 'g:team').text, '📞 bob declined', 'in a group: who declined');
  assert.equal(callLogLine(e('REJECTED'), 'bob', 'g:team').text, '📞 You declined');
  assert.equal(callLogLine(e('BUSY'), 'alice').text, '📞 Busy');
  assert.deepEqual(callLogLine(e('RINGING', { by: 'alice' }), 'bob'),
    { text: '📞 Incoming video call from alice', hidden: true });
  assert.equal(callLogLine(e('RINGING', { by: 'alice', media: 'AUDIO' }), 'alice').text, '📞 Outgoing voice call');
  assert.equal(callLogLine(e('ACCEPTED'), 'alice').hidden, true);
});

test('terminal states: BUSY, CANCELLED, MISSED, ENDED everywhere, REJECTED in 1:1 calls only', () => {
  for (const s of ['BUSY', 'CANCELLED', 'MISSED', 'ENDED']) assert.ok(isTerminal({ state: s }, 'g:x'), s);
  assert.ok(isTerminal({ state: 'REJECTED' }, 'd:a:b'));
  assert.ok(!isTerminal({ state: 'REJECTED' }, 'g:x'));
  assert.ok(!isTerminal({ state: 'RINGING' }, 'd:a:b'));
  assert.ok(!isTerminal({ state: 'ACCEPTED' }, 'd:a:b'));
});

test('the RTC configuration: the answer\'s ICE servers, empty credentials left out, relay-only on request', () => {
  const servers = [{ urls: ['stun:127.0.0.1:3478'], username: '', credential: '' },
    { urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1700000000:alice', credential: 'c2VjcmV0' },
    { urls: [], username: 'x', credential: 'y' }];
  assert.deepEqual(rtcConfiguration(servers), { iceTransportPolicy: 'all', iceServers: [
    { urls: ['stun:127.0.0.1:3478'] },
    { urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1700000000:alice', credential: 'c2VjcmV0' }] });
  assert.equal(rtcConfiguration(servers, 'relay').iceTransportPolicy, 'relay');
  assert.equal(rtcConfiguration(undefined, 'bogus').iceTransportPolicy, 'all');
});

test('the route of a connection is the local candidate type of the selected pair', () => {
  const stats = new Map([
    ['T', { id: 'T', type: 'transport', selectedCandidatePairId: 'P' }],
    ['P', { id: 'P', type: 'candidate-pair', localCandidateId: 'L', state: 'succeeded', nominated: true }],
    ['L', { id: 'L', type: 'local-candidate', candidateType: 'relay' }],
  ]);
  assert.equal(selectedRoute(stats), 'relay');
  assert.equal(selectedRoute(new Map()), '');
});

// ------------------------------------------------------------------------------------------------ stand-ins

const tick = () => new Promise((r) => setTimeout(r, 0));
const settle = async () => { for (let i = 0; i < 10; i++) await tick(); };

function track(kind) {
  return { kind, enabled: true, stopped: false, stop() { this.stopped = true; } };
}

function stream(kinds) {
  const tracks = kinds.map(track);
  return { tracks, getTracks: () => tracks };
}

class FakePeerConnection {
  static all = [];

  constructor(config) {
    this.config = config;
    this.tracks = [];
    this.localDescription = null;
    this.remoteDescription = null;
    this.candidates = [];
    this.closed = false;
    FakePeerConnection.all.push(this);
  }

  addTrack(t) { this.tracks.push(t); }

  async createOffer() { return { type: 'offer', sdp: `offer-${FakePeerConnection.all.indexOf(this)}` }; }

  async createAnswer() { return { type: 'answer', sdp: `answer-${FakePeerConnection.all.indexOf(this)}` }; }

  async setLocalDescription(d) {
    this.localDescription = d;
    // a real connection starts gathering now: candidates may come before the offer went out
    this.onicecandidate?.({ candidate: { toJSON: () => ({ candidate: 'candidate:early', sdpMid: '0' }) } });
  }

  async setRemoteDescription(d) {
    await tick();
    this.remoteDescription = d;
  }

  async addIceCandidate(c) {
    if (!this.remoteDescription) throw new Error('InvalidStateError: no remote description');
    this.candidates.push(c);
  }

  close() { this.closed = true; }
}

/** A CallManager for `me` on device `dev` with a recording api; `answers` are what the api's calls resolve with. */
function manager(me, dev, answers = {}, now = () => 1_000_000) {
  FakePeerConnection.all = [];
  const sent = [];
  const api = {
    start: async (to) => { sent.push({ op: 'start', ...to }); return answers.start; },
    join: async (callId) => { sent.push({ op: 'join', callId }); return answers.join; },
    reject: async (callId) => { sent.push({ op: 'reject', callId }); return { callId, state: 'REJECTED' }; },
    hangup: async (callId) => { sent.push({ op: 'hangup', callId }); return { callId, state: 'ENDED' }; },
    signal: async (s) => { sent.push({ op: 'signal', ...s }); return {}; },
  };
  const media = [];
  let changes = 0;
  const calls = new CallManager({ me, deviceId: dev, api, now, log: () => {},
    getUserMedia: async (c) => {
      const s = stream(c.video ? ['audio', 'video'] : ['audio']);
      media.push(s);
      return s;
    },
    createPeerConnection: (config) => new FakePeerConnection(config),
    onChange: () => { changes++; } });
  return { calls, sent, media, signals: () => sent.filter((s) => s.op === 'signal'), changes: () => changes };
}

const event = (seq, state, extra = {}) => [{ seq, conversation: 'd:alice:bob', serverTime: 1_000_000 },
  { callId: 'c1', state, media: 'VIDEO', initiator: 'alice', invited: ['bob'], by: 'alice', byDevice: 'a1',
    startedAt: 999_000, durationMs: 0, ...extra }];

test('RINGING rings every invited device; it stops when the user answers or declines anywhere, or the call ends', () => {
  for (const [stop, expectRinging] of [
    [event(2, 'ACCEPTED', { by: 'bob', byDevice: 'phone' }), false], // answered on another device
    [event(2, 'REJECTED', { by: 'bob', byDevice: 'phone' }), false], // declined on another device
    [event(2, 'CANCELLED'), false],
    [event(2, 'MISSED', { by: '' }), false],
  ]) {
    const { calls } = manager('bob', 'web-b');
    calls.onEvent(...event(1, 'RINGING'));
    assert.deepEqual(calls.ringing().map((r) => [r.callId, r.initiator, r.media, r.conversation]),
      [['c1', 'alice', 'VIDEO', 'd:alice:bob']]);
    calls.onEvent(...stop);
    assert.equal(calls.ringing().length > 0, expectRinging, stop[1].state);
  }
});

test('a group call keeps ringing when another member answers; the initiator and old calls never ring', () => {
  const { calls } = manager('bob', 'web-b');
  const group = (seq, state, extra) => {
    const [m, e] = event(seq, state, { invited: ['bob', 'carol'], ...extra });
    return [{ ...m, conversation: 'g:team' }, e];
  };
  calls.onEvent(...group(1, 'RINGING'));
  calls.onEvent(...group(2, 'ACCEPTED', { by: 'carol', byDevice: 'c1' }));
  calls.onEvent(...group(3, 'REJECTED', { by: 'dave' }));
  assert.equal(calls.ringing().length, 1, 'others answering or declining does not stop bob\'s ringing');

  const own = manager('alice', 'web-a').calls;
  own.onEvent(...event(1, 'RINGING'));
  assert.equal(own.ringing().length, 0, 'the initiator\'s other devices do not ring');

  const late = manager('bob', 'web-b', {}, () => 999_000 + 31_000).calls;
  late.onEvent(...event(1, 'RINGING'));
  assert.equal(late.ringing().length, 0, 'a RINGING older than the ring time-out (seen on resume) does not ring');

  const outOfOrder = manager('bob', 'web-b').calls;
  outOfOrder.onEvent(...event(2, 'MISSED', { by: '' }));
  outOfOrder.onEvent(...event(1, 'RINGING'));
  assert.equal(outOfOrder.ringing().length, 0, 'an event older than one already seen changes nothing');
});

test('the joiner offers to every device in the call; candidates follow the offer; answers and candidates apply', async () => {
  const join = { callId: 'c1', token: 'tok-bob', iceServers: [{ urls: ['turn:127.0.0.1:24300'], username: 'u',
    credential: 'p' }], participants: [{ user: 'alice', device: 'a1' }, { user: 'carol', device: 'c1' }],
  media: 'VIDEO' };
  const { calls, sent, media, signals } = manager('bob', 'web-b', { join });
  calls.onEvent(...event(1, 'RINGING', { invited: ['bob', 'carol'] }));
  await calls.accept('c1');
  await settle();
  assert.deepEqual(sent[0], { op: 'join', callId: 'c1' });
  assert.equal(calls.ringing().length, 0);
  assert.equal(calls.current.phase, 'connecting');
  const [toAlice, toCarol] = FakePeerConnection.all;
  assert.equal(FakePeerConnection.all.length, 2, 'one connection per participant');
  assert.deepEqual(toAlice.config.iceServers, join.iceServers);
  assert.equal(toAlice.tracks.length, 2, 'microphone and camera sent');
  assert.equal(media[0].tracks.length, 2);
  assert.deepEqual(signals().map((s) => [s.toUser, s.toDevice, s.kind, s.token]), [
    ['alice', 'a1', 'OFFER', 'tok-bob'], ['alice', 'a1', 'CANDIDATE', 'tok-bob'],
    ['carol', 'c1', 'OFFER', 'tok-bob'], ['carol', 'c1', 'CANDIDATE', 'tok-bob']]);
  assert.equal(signals()[0].data, 'offer-0');
  assert.deepEqual(JSON.parse(signals()[1].data), { candidate: 'candidate:early', sdpMid: '0' });

  // alice answers; her candidate arrives while the answer is still being applied: it waits for it
  const signal = (kind, data, fromUser = 'alice', fromDevice = 'a1') => calls.onSignal({ seq: 0 },
    { callId: 'c1', fromUser, fromDevice, kind, data });
  signal('ANSWER', 'answer-from-alice');
  signal('CANDIDATE', '{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}');
  await settle();
  assert.deepEqual(toAlice.remoteDescription, { type: 'answer', sdp: 'answer-from-alice' });
  assert.deepEqual(toAlice.candidates, [{ candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0 }]);
  assert.equal(toCarol.remoteDescription, null, 'each answer goes to its own connection');

  // a signal from a device this one has no connection with, or for another call, changes nothing
  signal('CANDIDATE', '{"candidate":"candidate:x"}', 'alice', 'other-device');
  calls.onSignal({ seq: 0 }, { callId: 'c2', fromUser: 'alice', fromDevice: 'a1', kind: 'BYE', data: '' });
  await settle();
  assert.equal(toAlice.candidates.length, 1);
  assert.equal(toAlice.closed, false);

  // carol leaves (the server relays her device's BYE): only her connection closes
  signal('BYE', '', 'carol', 'c1');
  assert.equal(toCarol.closed, true);
  assert.equal(toAlice.closed, false);
  assert.deepEqual([...calls.current.peers.keys()], ['alice']);

  // the call ends (a terminal event): everything stops, the log line becomes the notice
  calls.onEvent(...event(9, 'ENDED', { by: 'alice', durationMs: 65_000 }));
  assert.equal(calls.current, null);
  assert.equal(toAlice.closed, true);
  assert.ok(media[0].tracks.every((t) => t.stopped), 'microphone and camera released');
  assert.equal(calls.notice, 'Video call · 1:05');
});

test('a device already in the call answers the offer it gets, with its candidates after the answer', async () => {
  const start = { callId: 'c1', token: 'tok-alice', iceServers: [], ringingSeq: 1, busy: false,
    conversation: 'd:alice:bob' };
  const { calls, sent, signals } = manager('alice', 'a1', { start });
  await calls.start({ peer: 'bob', media: 'AUDIO' });
  assert.deepEqual(sent[0], { op: 'start', peer: 'bob', media: 'AUDIO' });
  assert.equal(calls.current.phase, 'ringing');
  assert.equal(calls.current.conversation, 'd:alice:bob');
  calls.onEvent(...event(2, 'ACCEPTED', { by: 'bob', byDevice: 'web-b' }));
  assert.equal(calls.current.phase, 'connecting');
  assert.equal(calls.current.acceptedAt, 1_000_000);
  calls.onSignal({ seq: 0 }, { callId: 'c1', fromUser: 'bob', fromDevice: 'web-b', kind: 'CANDIDATE',
    data: '{"candidate":"candidate:too-early"}' }); // before any offer: no connection to bob yet, dropped
  calls.onSignal({ seq: 0 }, { callId: 'c1', fromUser: 'bob', fromDevice: 'web-b', kind: 'OFFER', data: 'offer-b' });
  calls.onSignal({ seq: 0 }, { callId: 'c1', fromUser: 'bob', fromDevice: 'web-b', kind: 'CANDIDATE',
    data: '{"candidate":"candidate:2"}' });
  await settle();
  const [pc] = FakePeerConnection.all;
  assert.equal(FakePeerConnection.all.length, 1);
  assert.equal(pc.tracks.length, 1, 'a voice call sends the microphone only');
  assert.deepEqual(pc.remoteDescription, { type: 'offer', sdp: 'offer-b' });
  assert.deepEqual(pc.candidates, [{ candidate: 'candidate:2' }]);
  assert.deepEqual(signals().map((s) => [s.toUser, s.toDevice, s.kind, s.token]), [
    ['bob', 'web-b', 'ANSWER', 'tok-alice'], ['bob', 'web-b', 'CANDIDATE', 'tok-alice']]);
  assert.equal(signals()[0].data, 'answer-0');

  // bob's other device takes over (a new OFFER from another device of his): it replaces the old connection
  calls.onSignal({ seq: 0 }, { callId: 'c1', fromUser: 'bob', fromDevice: 'phone', kind: 'OFFER', data: 'offer-p' });
  await settle();
  assert.equal(pc.closed, true);
  assert.equal(calls.current.peers.get('bob').device, 'phone');

  // hanging up: media stops at once, then the server is told
  await calls.hangup();
  assert.equal(calls.current, null);
  assert.deepEqual(sent.at(-1), { op: 'hangup', callId: 'c1' });
  assert.ok(FakePeerConnection.all.every((p) => p.closed));
});

test('a BYE from another device of the same user: this one was replaced and leaves without hanging up', async () => {
  const join = { callId: 'c1', token: 't', iceServers: [], participants: [{ user: 'alice', device: 'a1' }] };
  const { calls, sent } = manager('bob', 'web-b', { join });
  calls.onEvent(...event(1, 'RINGING'));
  await calls.accept('c1');
  calls.onSignal({ seq: 0 }, { callId: 'c1', fromUser: 'bob', fromDevice: 'phone', kind: 'BYE', data: '' });
  assert.equal(calls.current, null);
  assert.equal(calls.notice, 'Answered on another device');
  assert.ok(!sent.some((s) => s.op === 'hangup'));
});

test('calling a busy peer ends at once with a notice; a second call while in one is refused', async () => {
  const { calls, media } = manager('alice', 'a1', { start: { callId: 'c1', busy: true, ringingSeq: 3 } });
  const r = await calls.start({ peer: 'bob', media: 'VIDEO' });
  assert.equal(r.busy, true);
  assert.equal(calls.current, null);
  assert.equal(calls.notice, 'bob is busy');
  assert.ok(media[0].tracks.every((t) => t.stopped));

  const second = manager('alice', 'a1', { start: { callId: 'c2', token: 't', iceServers: [] } }).calls;
  await second.start({ peer: 'bob', media: 'AUDIO' });
  await assert.rejects(second.start({ peer: 'carol', media: 'AUDIO' }), /already in a call/);
});

test('declining tells the server and stops ringing here; muting switches the tracks off', async () => {
  const { calls, sent } = manager('bob', 'web-b', { join: { callId: 'c1', token: 't', participants: [] } });
  calls.onEvent(...event(1, 'RINGING'));
  await calls.reject('c1');
  assert.deepEqual(sent, [{ op: 'reject', callId: 'c1' }]);
  assert.equal(calls.ringing().length, 0);
  await assert.rejects(calls.accept('c1'), /not ringing/);

  calls.onEvent({ seq: 5, conversation: 'd:alice:bob', serverTime: 1_000_000 }, { callId: 'c9', state: 'RINGING',
    media: 'VIDEO', initiator: 'alice', invited: ['bob'], startedAt: 999_500 });
  await calls.accept('c9');
  calls.setMuted('audio', true);
  const tracks = calls.current.localStream.getTracks();
  assert.deepEqual(tracks.map((t) => [t.kind, t.enabled]), [['audio', false], ['video', true]]);
  assert.equal(calls.current.muted.audio, true);
});

test('after a reconnect the device joins again and offers new connections that replace the old ones', async () => {
  const join = { callId: 'c1', token: 't1', iceServers: [], participants: [{ user: 'alice', device: 'a1' }] };
  const { calls, sent, signals } = manager('bob', 'web-b', { join });
  await calls.rejoin(); // no call: nothing to do
  assert.deepEqual(sent, []);
  calls.onEvent(...event(1, 'RINGING'));
  await calls.accept('c1');
  await settle();
  const [first] = FakePeerConnection.all;
  join.token = 't2'; // the rejoin's answer carries a fresh token
  await calls.rejoin();
  await settle();
  assert.deepEqual(sent.filter((s) => s.op === 'join').length, 2);
  assert.equal(first.closed, true, 'the old connection is replaced');
  assert.equal(FakePeerConnection.all.length, 2);
  const offers = signals().filter((s) => s.kind === 'OFFER');
  assert.deepEqual(offers.map((s) => [s.toUser, s.token]), [['alice', 't1'], ['alice', 't2']]);
  assert.equal(calls.current.phase, 'connecting');
});
