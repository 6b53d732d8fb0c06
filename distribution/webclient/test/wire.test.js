import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame, encodeFrame, messageTypes, viewOf } from '../src/wire.js';

test('frames round-trip with uint64 as numbers and the oneof named', () => {
  const bytes = encodeFrame({ requestId: 7, deliverAck: { conversation: 'd:a:b', seq: 42 } });
  const f = decodeFrame(bytes);
  assert.equal(f.op, 'deliverAck');
  assert.equal(f.requestId, 7);
  assert.equal(f.deliverAck.seq, 42);
});

test('text and emoji bodies are packed as Any with their type URLs and shown back', () => {
  const text = messageTypes.text.compose('hello');
  assert.equal(text.type_url, 'type.googleapis.com/parley.text.v1.Text');
  const sent = decodeFrame(encodeFrame({ requestId: 1, send: { clientMsgId: 'x', peer: 'bob', type: 'text', body: text } }));
  assert.deepEqual(viewOf({ type: 'text', body: sent.send.body }), { text: 'hello' });
  const emoji = messageTypes.emoji.compose('🎉');
  assert.deepEqual(viewOf({ type: 'emoji', body: emoji }), { text: '🎉', big: true });
});

test('unknown types are shown as unsupported, not dropped', () => {
  assert.equal(viewOf({ type: 'video', body: null }).unsupported, true);
});

test('an invalid frame is refused before it reaches the socket', () => {
  assert.throws(() => encodeFrame({ requestId: 1, send: { clientMsgId: 5 } }), /bad frame/);
});
