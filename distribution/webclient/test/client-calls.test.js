// ChatClient with calls against a scripted server behind a fake WebSocket: call events from deliveries ring, the
// call.* commands go out with their payloads, relayed call.signal messages (seq 0) reach the call and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as gen from '../target/gen/protocol.js';
import { decodeFrame, encodeFrame } from '../src/wire.js';
import { ChatClient } from '../src/client.js';

const call = gen.parley.call.v1;
const any = (type, name, value) => ({ type_url: `type.googleapis.com/parley.call.v1.${name}`,
  value: type.encode(type.fromObject(value)).finish() });

function fakeWebSockets(server) {
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      FakeWebSocket.last = this;
      setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1);
    }

    send(bytes) { server(decodeFrame(bytes), this); }

    reply(frame) {
      if (this.readyState === 1) setTimeout(() => this.onmessage?.({ data: encodeFrame(frame) }), 1);
    }

    close(code = 1000, reason = '') {
      if (this.readyState > 1) return;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code, reason }), 1);
    }
  }
  return FakeWebSocket;
}

const until = async (condition, what) => {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
};

class StandInPeerConnection {
  static all = [];

  constructor(config) {
    this.config = config;
    this.remoteDescription = null;
    this.localDescription = null;
    StandInPeerConnection.all.push(this);
  }

  addTrack() {}

  async createOffer() { return { type: 'offer', sdp: 'v=0 offer' }; }

  async setLocalDescription(d) { this.localDescription = d; }

  async setRemoteDescription(d) { this.remoteDescription = d; }

  async addIceCandidate() {}

  close() { this.closed = true; }
}

test('a call event rings, accepting joins and offers, a relayed answer reaches the peer connection', async () => {
  const commands = [];
  const acks = [];
  const ringing = { id: 'm1', conversation: 'd:alice:bob', seq: 1, sender: 'alice', senderDevice: 'a1',
    clientMsgId: 'command:call.start:x', type: 'call', serverTime: Date.now(),
    body: any(call.CallEvent, 'CallEvent', { callId: 'c-1', state: 'RINGING', media: 'VIDEO', initiator: 'alice',
      invited: ['bob'], by: 'alice', byDevice: 'a1', startedAt: Date.now() }) };
  // a `call` message that no server appended (a forged client_msg_id) must not ring
  const forged = { ...ringing, id: 'm0', seq: 2, clientMsgId: 'w-forged',
    body: any(call.CallEvent, 'CallEvent', { callId: 'c-forged', state: 'RINGING', media: 'AUDIO',
      initiator: 'mallory', invited: ['bob'], startedAt: Date.now() }) };
  const FakeWebSocket = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') socket.reply({ requestId: f.requestId, helloOk: { userId: 'bob', heartbeatSeconds: 30 } });
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {} });
    if (f.op === 'sync' && f.sync.resume) {
      socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
      socket.reply({ deliver: { messages: [ringing, forged] } });
    }
    if (f.op === 'deliverAck') acks.push([f.deliverAck.conversation, f.deliverAck.seq]);
    if (f.op === 'command') {
      const c = f.command;
      if (c.type.startsWith('call.')) commands.push(c); // (sticker.list is asked after every sign-in)
      let payload = { type_url: '', value: new Uint8Array() };
      if (c.type === 'call.join') {
        payload = any(call.CallJoined, 'CallJoined', { callId: 'c-1', roomId: 'r', token: 'room-token',
          iceServers: [{ urls: ['turn:127.0.0.1:24300'], username: '1:bob', credential: 'x' }],
          participants: [{ user: 'alice', device: 'a1' }], media: 'VIDEO', conversation: 'd:alice:bob' });
      }
      socket.reply({ requestId: f.requestId, commandResult: { type: c.type, payload } });
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  StandInPeerConnection.all = [];
  const tracks = [{ kind: 'audio', stop() {} }, { kind: 'video', stop() {} }];
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-b', user: 'bob',
    iceTransportPolicy: 'relay', getUserMedia: async () => ({ getTracks: () => tracks }),
    createPeerConnection: (config) => new StandInPeerConnection(config) });
  client.start();
  await until(() => client.calls.ringing().length === 1, 'the ringing call');
  assert.equal(client.calls.ringing()[0].callId, 'c-1', 'only the server\'s event rings');
  assert.deepEqual(client.state.timeline('d:alice:bob').map((m) => m.seq), [1, 2], 'both are in the history');

  await client.calls.accept('c-1');
  await until(() => commands.some((c) => c.type === 'call.signal'), 'the offer');
  const join = call.CallJoin.decode(commands[0].payload.value);
  assert.equal(commands[0].payload.type_url, 'type.googleapis.com/parley.call.v1.CallJoin');
  assert.equal(join.callId, 'c-1');
  const [pc] = StandInPeerConnection.all;
  assert.equal(pc.config.iceTransportPolicy, 'relay', 'the relay-only setting reaches the connection');
  assert.deepEqual(pc.config.iceServers, [{ urls: ['turn:127.0.0.1:24300'], username: '1:bob', credential: 'x' }]);
  const offer = call.CallSignal.toObject(call.CallSignal.decode(commands[1].payload.value), { enums: String });
  assert.deepEqual(offer, { callId: 'c-1', toUser: 'alice', toDevice: 'a1', kind: 'OFFER', data: 'v=0 offer',
    token: 'room-token' });

  // alice's answer, relayed: seq 0, never acknowledged, not in the history
  FakeWebSocket.last.reply({ deliver: { messages: [{ id: '', conversation: 'd:alice:bob', seq: 0, sender: 'alice',
    senderDevice: 'a1', type: 'call.signal', serverTime: Date.now(),
    body: any(call.Signal, 'Signal', { callId: 'c-1', fromUser: 'alice', fromDevice: 'a1', kind: 'ANSWER',
      data: 'v=0 answer' }) }] } });
  await until(() => pc.remoteDescription, 'the answer applied');
  assert.deepEqual(pc.remoteDescription, { type: 'answer', sdp: 'v=0 answer' });
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(acks.length > 0 && acks.every(([, seq]) => seq >= 1 && seq <= 2), `only stored seqs acknowledged: ${acks}`);
  assert.deepEqual(client.state.timeline('d:alice:bob').map((m) => m.seq), [1, 2]);

  // hanging up sends call.hangup for the call
  await client.calls.hangup();
  const hangup = commands.at(-1);
  assert.equal(hangup.type, 'call.hangup');
  assert.equal(call.CallHangup.decode(hangup.payload.value).callId, 'c-1');
  assert.equal(pc.closed, true);
  client.stop();
});
