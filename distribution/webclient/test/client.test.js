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
    if (f.op === 'command' && f.command.type === 'sticker.list') {
      socket.reply({ requestId: f.requestId, error: { code: 16 /* ERROR_CODE_UNSUPPORTED_COMMAND */,
        message: 'no handler for sticker.list' } });
    } else if (f.op === 'command') {
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

/** A server for file and sticker tests: answers hello, list, resume, sends, and the commands with `commands[type]`. */
async function fileServer(commands) {
  const g = (await import('../target/gen/protocol.js')).parley;
  const pack = (type, value) => {
    const message = type.split('.').reduce((ns, part) => ns[part], { parley: g });
    return { type_url: `type.googleapis.com/${type}`, value: message.encode(message.fromObject(value)).finish() };
  };
  const seen = { sends: [], commands: [] };
  const { FakeWebSocket } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') socket.reply({ requestId: f.requestId, helloOk: { userId: 'alice', heartbeatSeconds: 30 } });
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {} });
    if (f.op === 'sync' && f.sync.resume) socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
    if (f.op === 'send') {
      seen.sends.push(f.send);
      socket.reply({ requestId: f.requestId, sendAck: { messageId: `m${seen.sends.length}`, conversation: 'd:alice:bob',
        seq: seen.sends.length, serverTime: 5 } });
    }
    if (f.op === 'command') {
      seen.commands.push(f.command);
      const answer = commands[f.command.type]?.(f.command, seen);
      if (answer?.error) socket.reply({ requestId: f.requestId, error: answer.error });
      else if (answer) socket.reply({ requestId: f.requestId, commandResult: { type: f.command.type,
        payload: pack(answer.type, answer.value) } });
      else socket.reply({ requestId: f.requestId, error: { code: 16, message: `no handler for ${f.command.type}` } });
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  return { seen, g };
}

test('a file is sent after its upload: ticket, chunks with progress, then the message with the sha256', async () => {
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
  const { seen, g } = await fileServer({
    'file.upload': (c) => {
      const r = g.file.v1.UploadRequest.decode(c.payload.value);
      return { type: 'parley.file.v1.UploadTicket', value: { key: 'f/alice/20261206/k1', ticket: 'tk',
        uploadUrl: 'http://127.0.0.1:7702/blobs/f/alice/20261206/k1', size: r.size, contentType: r.contentType,
        expiresAt: Date.now() + 3600_000, chunkMaxBytes: 128 } };
    },
  });
  const patches = [];
  let stored = 0;
  const http = async (r) => {
    patches.push([r.method, r.headers['Upload-Offset'], r.body.length, r.headers.Authorization]);
    stored += r.body.length;
    r.onUploadProgress(r.body.length);
    const done = stored === 300;
    return { status: done ? 201 : 204, text: done ? JSON.stringify({ sha256: await sha(bytes) }) : '',
      header: (n) => (n === 'Upload-Offset' ? String(stored) : null) };
  };
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice', http });
  const progress = [];
  client.onChange(() => {
    const m = client.state.timeline('d:alice:bob')[0];
    if (m?.upload) progress.push(m.upload.loaded);
  });
  client.start();
  try {
    await until(() => client.connection.online, 'online');
    const file = new File([bytes], 'report.pdf', { type: 'application/pdf' });
    const { done } = client.sendFile({ peer: 'bob', file });
    assert.equal(client.state.timeline('d:alice:bob')[0].upload.name, 'report.pdf', 'shown at once, uploading');
    await done;
    await until(() => client.state.timeline('d:alice:bob')[0]?.seq === 1, 'the ack');
    assert.deepEqual(patches, [['PATCH', '0', 128, 'Bearer tk'], ['PATCH', '128', 128, 'Bearer tk'],
      ['PATCH', '256', 44, 'Bearer tk']]);
    assert.deepEqual(progress.filter((p, i) => p !== progress[i - 1]), [0, 128, 256, 300]);
    const upload = g.file.v1.UploadRequest.decode(seen.commands.find((c) => c.type === 'file.upload').payload.value);
    assert.deepEqual([upload.name, Number(upload.size), upload.contentType], ['report.pdf', 300, 'application/pdf']);
    const send = seen.sends[0];
    assert.equal(send.type, 'file', 'not an image type: a file');
    const body = g.file.v1.File.decode(send.body.value);
    assert.deepEqual([body.key, body.name, Number(body.size), body.contentType, body.sha256],
      ['f/alice/20261206/k1', 'report.pdf', 300, 'application/pdf', await sha(bytes)]);
  } finally {
    client.stop();
  }
});

test('a refused upload fails the message with the server\'s error; images go as image', async () => {
  await fileServer({
    'file.upload': () => ({ error: { code: 17 /* QUOTA_EXCEEDED */,
      message: 'alice stores 1073741000 of 1073741824 bytes (open upload tickets included); 2000 more do not fit' } }),
  });
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice',
    http: () => assert.fail('nothing is uploaded without a ticket') });
  client.start();
  try {
    await until(() => client.connection.online, 'online');
    const { done } = client.sendFile({ conversation: 'd:alice:bob',
      file: new File([new Uint8Array(2000)], 'cat.png', { type: 'image/png' }) });
    await done;
    const m = client.state.timeline('d:alice:bob')[0];
    assert.equal(m.type, 'image');
    assert.equal(client.state.stateOf('d:alice:bob', m), 'failed');
    assert.match(m.failed, /^QUOTA_EXCEEDED: alice stores 1073741000/);
  } finally {
    client.stop();
  }
});

test('download URLs are asked once and reused, forgotten on a recall; stickers are listed after sign-in', async () => {
  const { seen } = await fileServer({
    'file.download': (c, s) => ({ type: 'parley.file.v1.DownloadTicket', value: { url: `u${s.commands.length}`,
      thumbnailUrl: `t${s.commands.length}`, expiresAt: Date.now() + 300_000 } }),
    'sticker.list': () => ({ type: 'parley.sticker.v1.StickerCatalog', value: { expiresAt: Date.now() + 300_000,
      packs: [{ id: 'cats', name: 'Cats', version: 1, stickers: [{ id: 'hi', name: 'Hi', url: 'su', imageKey: 'k' }] }] } }),
    recall: () => ({ type: 'parley.recall.v1.RecallResult', value: { conversation: 'd:alice:bob', seq: 1, eventSeq: 2,
      recalledBy: 'alice', recalledAt: 9 } }),
  });
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice' });
  client.start();
  try {
    await until(() => client.catalog.lookup('cats', 'hi'), 'the sticker catalog');
    assert.equal(client.catalog.lookup('cats', 'hi').url, 'su');
    const first = await client.download('d:alice:bob', 1);
    const again = await client.download('d:alice:bob', 1);
    assert.equal(again, first, 'reused');
    assert.equal(seen.commands.filter((c) => c.type === 'file.download').length, 1);
    await client.recall('d:alice:bob', 1);
    await client.download('d:alice:bob', 1);
    assert.equal(seen.commands.filter((c) => c.type === 'file.download').length, 2, 'asked again after the recall');
    assert.equal(seen.commands.filter((c) => c.type === 'sticker.list').length, 1, 'the catalog once');
  } finally {
    client.stop();
  }
});

async function sha(bytes) {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(bytes).digest('hex');
}

test('an upload URL on another origin than the page is refused with a hint, before any byte is read', async () => {
  await fileServer({
    'file.upload': () => ({ type: 'parley.file.v1.UploadTicket', value: { key: 'f/alice/1/k', ticket: 'tk',
      uploadUrl: 'http://127.0.0.1:7702/blobs/f/alice/1/k', size: 3, contentType: 'text/plain',
      expiresAt: Date.now() + 60_000, chunkMaxBytes: 65536 } }),
  });
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice',
    pageOrigin: 'http://localhost:7702', http: () => assert.fail('no upload to another origin') });
  client.start();
  try {
    await until(() => client.connection.online, 'online');
    const { done } = client.sendFile({ peer: 'bob', file: new File(['abc'], 'a.txt', { type: 'text/plain' }) });
    await done;
    assert.match(client.state.timeline('d:alice:bob')[0].failed,
      /^CROSS_ORIGIN: uploads go to http:\/\/127.0.0.1:7702, which this page \(http:\/\/localhost:7702\)/);
  } finally {
    client.stop();
  }
});

test('a refused hello (bad signature) ends the session with the server\'s reason and an offline status, no retry', async (t) => {
  const { FakeWebSocket, sockets } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') {
      socket.reply({ requestId: f.requestId, error: { code: 3 /* UNAUTHENTICATED */,
        message: 'token signature invalid' } });
      setTimeout(() => socket.close(1008, 'unauthenticated'), 20);
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'eve' });
  client.connection.options.backoffInitialMs = 5;
  t.after(() => client.stop());
  client.start();
  await until(() => client.error, 'the fatal error');
  assert.equal(client.error.code, 'ERROR_CODE_UNAUTHENTICATED');
  assert.equal(client.error.message, 'token signature invalid');
  assert.deepEqual(client.status, { status: 'offline', detail: 'token signature invalid' }, 'not left "connecting"');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sockets.length, 1, 'no reconnect with the refused token');
  client.stop();
});

/** A Storage stand-in (getItem/setItem) shared by two page loads. */
function memoryStorage() {
  const items = new Map();
  return { getItem: (k) => (items.has(k) ? items.get(k) : null), setItem: (k, v) => items.set(k, String(v)), items };
}

test('group read receipts are kept across page loads: "read by N" does not fall back to "sent" after a reload', async () => {
  const g = 'g:team';
  const msg = (seq, sender) => ({ id: `m${seq}`, conversation: g, seq, sender, type: 'text', serverTime: seq });
  let pushReceipts = true;
  const { FakeWebSocket } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') socket.reply({ requestId: f.requestId, helloOk: { userId: 'alice', heartbeatSeconds: 30 } });
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {
      conversations: [{ conversation: g, head: 2, readSeq: 2, title: 'team', last: msg(2, 'alice') }] } });
    if (f.op === 'sync' && f.sync.resume) {
      socket.reply({ requestId: f.requestId, syncResponse: { conversations: [{ conversation: g, watermark: 2, head: 2 }],
        done: true } });
      // receipts are pushed as they happen, never re-sent on resume: only the first page load gets them
      if (pushReceipts) {
        socket.reply({ readUpdate: { conversation: g, user: 'bob', seq: 2 } });
        socket.reply({ readCounts: { conversation: 'g:big', head: 3, fromSeq: 1,
          counts: [{ seq: 1, readers: 5 }, { seq: 3, readers: 2 }] } });
      }
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  const storage = memoryStorage();
  const first = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice', storage });
  first.start();
  await until(() => first.state.readersOf(g, 2) === 1 && first.state.readersOf('g:big', 3) === 2, 'the receipts');
  first.stop(); // the page goes away: what is pending is written
  assert.ok(storage.items.has('parley.receipts.alice'));

  pushReceipts = false;
  const second = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice', storage });
  second.start();
  await until(() => second.connection.online && second.state.conversation(g).lastSeq === 2, 'the resume');
  assert.equal(second.state.readersOf(g, 2), 1, 'bob\'s read cursor is kept');
  assert.equal(second.state.stateOf(g, msg(2, 'alice')), 'read');
  assert.equal(second.state.readersOf('g:big', 1), 5, 'the last ReadCounts are kept');
  second.stop();

  // another user on the same browser starts without alice's receipts; garbage in storage is ignored
  storage.setItem('parley.receipts.bob', '{"g:team": 7}');
  const bob = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-2', user: 'bob', storage });
  assert.equal(bob.state.readersOf(g, 2), 0);
});

test('transfer: the owner hands the group to a member with group.transfer; close() stops marking read', async () => {
  const groupOps = [];
  const marks = [];
  const { FakeWebSocket, sockets } = fakeWebSockets((f, socket) => {
    if (f.op === 'hello') socket.reply({ requestId: f.requestId, helloOk: { userId: 'alice', heartbeatSeconds: 30 } });
    if (f.op === 'conversationList') socket.reply({ requestId: f.requestId, conversationListResponse: {} });
    if (f.op === 'sync' && f.sync.resume) socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
    if (f.op === 'sync' && f.sync.range) socket.reply({ requestId: f.requestId, syncResponse: { done: true } });
    if (f.op === 'markRead') marks.push(f.markRead.seq);
    if (f.op === 'group') {
      groupOps.push(f.group);
      socket.reply({ requestId: f.requestId, groupResponse: { eventSeq: 3, group: { id: 'team', conversation: 'g:team',
        name: 'team', members: [{ user: 'alice', role: 2 /* ADMIN */ }, { user: 'bob', role: 3 /* OWNER */ }] } } });
    }
  });
  globalThis.WebSocket = FakeWebSocket;
  const client = new ChatClient({ url: 'ws://test/parley', token: 't', deviceId: 'web-1', user: 'alice',
    storage: null });
  client.start();
  await until(() => client.connection.online, 'the hello');
  const g = await client.transferOwnership('g:team', 'bob');
  assert.equal(groupOps.length, 1);
  assert.equal(groupOps[0].op, 'transfer');
  assert.deepEqual({ ...groupOps[0].transfer }, { groupId: 'team', newOwner: 'bob' });
  assert.ok(groupOps[0].clientRequestId, 'an idempotency key');
  assert.equal(g.members.find((m) => m.user === 'bob').role, 'GROUP_ROLE_OWNER');

  await client.open('g:team');
  client.close();
  assert.equal(client.openConversation, null);
  sockets[0].reply({ deliver: { messages: [{ id: 'm1', conversation: 'g:team', seq: 1, sender: 'bob', type: 'text',
    serverTime: 1 }] } });
  await until(() => client.state.conversation('g:team').lastSeq === 1, 'the delivery');
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(marks, [], 'a message arriving while no conversation is shown is not marked read');
  client.stop();
});
