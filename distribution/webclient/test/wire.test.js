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

test('recalls: the command payload, the answer, the event and the tombstone', async () => {
  const { recallPayload, recallEventOf, recallResultOf } = await import('../src/wire.js');
  const payload = recallPayload('d:alice:bob', 7);
  assert.equal(payload.type_url, 'type.googleapis.com/parley.recall.v1.Recall');
  const command = decodeFrame(encodeFrame({ requestId: 3, command: { type: 'recall', payload, clientRequestId: 'r1' } }));
  assert.equal(command.command.payload.type_url, payload.type_url);
  assert.equal(recallResultOf(payload), null, 'not a RecallResult');

  const generated = await import('../target/gen/protocol.js');
  const { RecallEvent, RecallResult } = generated.parley.recall.v1;
  const body = { type_url: 'type.googleapis.com/parley.recall.v1.RecallEvent',
    value: RecallEvent.encode(RecallEvent.fromObject({ seq: 7, messageId: 'm7' })).finish() };
  const event = { type: 'recall.event', sender: 'alice', serverTime: 42, clientMsgId: 'command:recall:r1', body };
  assert.deepEqual(recallEventOf(event), { seq: 7, by: 'alice', at: 42 });
  assert.equal(recallEventOf({ ...event, clientMsgId: 'c1' }), null, 'only what the server appended for a command');
  assert.deepEqual(viewOf(event), { text: 'alice recalled a message', system: true });
  assert.deepEqual(viewOf({ type: 'recalled', body: null }), { text: 'message recalled', recalled: true });

  const result = recallResultOf({ type_url: 'type.googleapis.com/parley.recall.v1.RecallResult',
    value: RecallResult.encode(RecallResult.fromObject({ conversation: 'd:alice:bob', seq: 7, eventSeq: 8,
      recalledBy: 'alice', recalledAt: 42 })).finish() });
  assert.equal(result.eventSeq, 8);
  assert.equal(result.recalledBy, 'alice');
});
