// ChatClient's protocol behaviour against a scripted server behind a fake WebSocket (pure logic: no network).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame, encodeFrame } from '../src/wire.js';
import { ChatClient } from '../src/client.js';

/** A WebSocket stand-in: frames the client sends go to `server(frame, socket)`; `socket.reply(frame)` answers. */
function fakeWebSockets(server) {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      sockets.push(this);
      setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1);
    }

    send(bytes) {
      server(decodeFrame(bytes), this);
    }

    reply(frame) {
      if (this.readyState === 1) setTimeout(() => this.onmessage?.({ data: encodeFrame(frame) }), 1);
    }

    close(code = 1000, reason = '') {
      if (this.readyState > 1) return;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code, reason }), 1);
    }
  }
  return { FakeWebSocket, sockets };
}

const until = async (condition, what) => {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
};

test('an unacknowledged send is retransmitted after a reconnect under the same client_msg_id, and shown once', async () => {
  const sends = [];
  const { FakeWebSocket, sockets } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') socket.reply({ requestId: f.requestId, helloOk: { userId: 'alice', deviceId: f.hello.deviceId,
      heartbeatSeconds: 30 } });
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {} });
    if (f.op === 'sync' && f.sync.resume) socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
    if (f.op === 'send') {
      sends.push(f.send.clientMsgId);
      if (sends.length === 1) {
        socket.close(1006, 'cut before the ack'); // stored or not, the client cannot know: it must retry
      } else {
        socket.reply({ requestId: f.requestId, sendAck: { messageId: 'm1', conversation: 'd:alice:bob', seq: 1,
          serverTime: 5, duplicate: true } });
      }
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice' });
  client.connection.options.backoffInitialMs = 5;
  client.start();
  await until(() => client.connection.online, 'the first hello');
  client.send({ peer: 'bob', type: 'text', content: 'hi' });
  await until(() => client.state.timeline('d:alice:bob').some((m) => m.seq === 1), 'the ack after the reconnect');
  client.stop();
  assert.ok(sockets.length >= 2, 'reconnected');
  assert.ok(sends.length >= 2, 'sent again');
  assert.equal(new Set(sends).size, 1, 'every retry reuses the client_msg_id');
  assert.deepEqual(client.state.timeline('d:alice:bob').map((m) => m.seq), [1], 'shown once, under its seq');
});

test('a gap in live deliveries is pulled with a range request and applied in order', async () => {
  const ranges = [];
  const msg = (seq) => ({ id: `m${seq}`, conversation: 'd:alice:bob', seq, sender: 'bob', type: 'text', serverTime: seq });
  const { FakeWebSocket } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') socket.reply({ requestId: f.requestId, helloOk: { userId: 'alice', heartbeatSeconds: 30 } });
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {} });
    if (f.op === 'sync' && f.sync.resume) {
      socket.reply({ requestId: f.requestId, syncResponse: { conversations: [{ conversation: 'd:alice:bob',
        watermark: 1, head: 1 }] } });
      socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
      socket.reply({ deliver: { messages: [msg(4)] } }); // 2 and 3 went missing
    }
    if (f.op === 'sync' && f.sync.range) {
      ranges.push([f.sync.range.fromSeq, f.sync.range.toSeq]);
      socket.reply({ requestId: f.requestId, syncResponse: { messages: [msg(2), msg(3)] } });
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice' });
  client.start();
  await until(() => client.state.conversation('d:alice:bob').lastSeq === 4, 'seq 4 applied');
  client.stop();
  assert.deepEqual(ranges, [[2, 3]]);
  assert.deepEqual(client.state.timeline('d:alice:bob').map((m) => m.seq), [2, 3, 4]);
});

test('a token-expired notice ends the session for good with a clear error, without reconnecting', async () => {
  const { FakeWebSocket, sockets } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') {
      socket.reply({ requestId: f.requestId, helloOk: { userId: 'alice', deviceId: f.hello.deviceId, heartbeatSeconds: 30 } });
      socket.reply({ notice: { kind: 4 /* KIND_TOKEN_EXPIRED */, text: 'token expired at 2026-12-06T00:00:00Z' } });
      setTimeout(() => socket.close(1000, ''), 20);
    }
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {} });
    if (f.op === 'sync' && f.sync.resume) socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
  });
  globalThis.WebSocket = FakeWebSocket;
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice' });
  client.connection.options.backoffInitialMs = 5;
  client.start();
  await until(() => client.error, 'the fatal error');
  assert.equal(client.error.code, 'TOKEN_EXPIRED');
  assert.match(client.error.message, /token expired/);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sockets.length, 1, 'no reconnect with the expired token');
  client.stop();
});

test('recall: the command goes out with its payload, success shows the message as recalled, a refusal says why', async () => {
  const { RecallResult } = (await import('../target/gen/protocol.js')).parley.recall.v1;
  const commands = [];
  const msg = { id: 'm1', conversation: 'd:alice:bob', seq: 1, sender: 'alice', type: 'text', serverTime: 1,
    clientMsgId: 'c1' };
  const { FakeWebSocket } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') socket.reply({ requestId: f.requestId, helloOk: { userId: 'alice', heartbeatSeconds: 30 } });
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {} });
    if (f.op === 'sync' && f.sync.resume) {
      socket.reply({ requestId: f.requestId, syncResponse: { conversations: [{ conversation: 'd:alice:bob',
        watermark: 0, head: 2 }] } });
      socket.reply({ deliver: { messages: [msg, { ...msg, id: 'm2', seq: 2, clientMsgId: 'c2' }] } });
      socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
    }
    if (f.op === 'command') {
      commands.push(f.command);
      if (commands.length === 1) {
        socket.reply({ requestId: f.requestId, commandResult: { type: 'recall', payload: {
          type_url: 'type.googleapis.com/parley.recall.v1.RecallResult',
          value: RecallResult.encode(RecallResult.fromObject({ conversation: 'd:alice:bob', seq: 1, eventSeq: 3,
            recalledBy: 'alice', recalledAt: 9 })).finish() } } });
      } else {
        socket.reply({ requestId: f.requestId, error: { code: 5 /* ERROR_CODE_FORBIDDEN */,
          message: 'message 2 can no longer be recalled: the window of 2 minutes after sending has passed' } });
      }
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice' });
  client.start();
  try {
    await until(() => client.state.conversation('d:alice:bob').lastSeq === 2, 'the history');
    const result = await client.recall('d:alice:bob', 1);
    assert.equal(result.eventSeq, 3);
    assert.equal(commands[0].type, 'recall');
    assert.equal(commands[0].payload.type_url, 'type.googleapis.com/parley.recall.v1.Recall');
    assert.ok(commands[0].clientRequestId, 'an idempotency key');
    assert.deepEqual(client.state.timeline('d:alice:bob').map((m) => m.type), ['recalled', 'text']);
    await assert.rejects(client.recall('d:alice:bob', 2), /window of 2 minutes/);
    assert.deepEqual(client.state.timeline('d:alice:bob').map((m) => m.type), ['recalled', 'text'], 'refused: unchanged');
  } finally {
    client.stop();
  }
});
