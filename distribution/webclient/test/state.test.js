import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatState, MessageState, directConversation, peerOf } from '../src/state.js';

const conv = directConversation('bob', 'alice');
const msg = (seq, sender = 'bob', extra = {}) => ({ conversation: conv, seq, sender, type: 'text', serverTime: seq,
  clientMsgId: `c${seq}`, ...extra });

test('direct conversation ids are symmetric and name the peer', () => {
  assert.equal(conv, 'd:alice:bob');
  assert.equal(directConversation('alice', 'bob'), conv);
  assert.equal(peerOf(conv, 'alice'), 'bob');
  assert.equal(peerOf(conv, 'bob'), 'alice');
  assert.equal(peerOf('g:team', 'alice'), null);
});

test('in-order messages are applied once; duplicates are dropped', () => {
  const s = new ChatState('alice');
  assert.deepEqual(s.applyMessages([msg(1), msg(2)]).applied.map((m) => m.seq), [1, 2]);
  assert.deepEqual(s.applyMessages([msg(2), msg(1)]).applied, []);
  assert.deepEqual(s.timeline(conv).map((m) => m.seq), [1, 2]);
});

test('a gap is buffered and reported; filling it applies the buffered successors in order', () => {
  const s = new ChatState('alice');
  s.applyMessages([msg(1)]);
  const r = s.applyMessages([msg(4), msg(5)]);
  assert.deepEqual(r.applied, []);
  assert.deepEqual(r.gap, { conversation: conv, from: 2, to: 3 });
  const filled = s.applyMessages([msg(2), msg(3)]);
  assert.deepEqual(filled.applied.map((m) => m.seq), [2, 3, 4, 5]);
  assert.equal(filled.gap, null);
});

test('resume watermark: older deliveries are not applied again', () => {
  const s = new ChatState('alice');
  s.startAt(conv, 10);
  assert.deepEqual(s.applyMessages([msg(10)]).applied, []);
  assert.deepEqual(s.applyMessages([msg(11)]).applied.map((m) => m.seq), [11]);
});

test('own message: sending, then sent at its seq, delivered, read', () => {
  const s = new ChatState('alice');
  s.addPending(conv, { clientMsgId: 'x1', conversation: conv, sender: 'alice', type: 'text', serverTime: 1 });
  const pending = s.timeline(conv)[0];
  assert.equal(s.stateOf(conv, pending), MessageState.SENDING);
  const { applied } = s.applyAck('x1', { messageId: 'm1', conversation: conv, seq: 1, serverTime: 5 });
  assert.equal(applied.length, 1);
  const sent = s.timeline(conv)[0];
  assert.equal(sent.seq, 1);
  assert.equal(s.stateOf(conv, sent), MessageState.SENT);
  s.applyDelivered(conv, 'bob', 1);
  assert.equal(s.stateOf(conv, sent), MessageState.DELIVERED);
  s.applyRead(conv, 'bob', 1);
  assert.equal(s.stateOf(conv, sent), MessageState.READ);
  assert.equal(s.timeline(conv).length, 1, 'the pending copy is gone');
});

test('a refused send is failed, not sent', () => {
  const s = new ChatState('alice');
  s.addPending(conv, { clientMsgId: 'x1', conversation: conv, sender: 'alice', type: 'emoji' });
  s.fail('x1', 'no processor');
  assert.equal(s.stateOf(conv, s.timeline(conv)[0]), MessageState.FAILED);
});

test('own message delivered from another device replaces the pending copy', () => {
  const s = new ChatState('alice');
  s.addPending(conv, { clientMsgId: 'x1', conversation: conv, sender: 'alice', type: 'text' });
  s.applyMessages([msg(1, 'alice', { clientMsgId: 'x1' })]);
  assert.deepEqual(s.timeline(conv).map((m) => m.seq), [1]);
});

test('unread counts follow the head and the read cursor of any of the user\'s devices', () => {
  const s = new ChatState('alice');
  s.applySummaries([{ conversation: conv, head: 7, readSeq: 3, title: 'bob', last: msg(7) }]);
  assert.equal(s.conversation(conv).unread, 4);
  s.applyRead(conv, 'alice', 6);
  assert.equal(s.conversation(conv).unread, 1);
  s.applyMessages([msg(8)]);
  assert.equal(s.conversation(conv).unread, 2);
});

test('typing notices expire and end with the typist\'s next message', () => {
  const s = new ChatState('alice');
  assert.deepEqual(s.applyTyping(conv, 'bob', true, 1000), ['bob']);
  assert.deepEqual(s.typingUsers(conv, 8000), []);
  s.applyTyping(conv, 'bob', true, 9000);
  s.applyMessages([msg(1)]);
  assert.deepEqual(s.typingUsers(conv, 9001), []);
});

test('conversations sort by latest message', () => {
  const s = new ChatState('alice');
  s.applyMessages([msg(1)]);
  s.applyMessages([{ conversation: 'g:team', seq: 1, sender: 'carol', type: 'text', serverTime: 50 }]);
  assert.deepEqual(s.sorted().map((c) => c.id), ['g:team', conv]);
});

test('group receipts: readers from ReadUpdates, or from the latest ReadCounts in large groups', () => {
  const s = new ChatState('alice');
  const g = 'g:team';
  s.applyMessages([{ conversation: g, seq: 1, sender: 'alice', type: 'text' },
    { conversation: g, seq: 2, sender: 'alice', type: 'text' }]);
  const first = s.timeline(g)[0];
  assert.equal(s.stateOf(g, first), MessageState.SENT);
  s.applyRead(g, 'bob', 1);
  s.applyRead(g, 'carol', 2);
  assert.equal(s.readersOf(g, 1), 2);
  assert.equal(s.readersOf(g, 2), 1);
  assert.equal(s.stateOf(g, first), MessageState.READ);
  // counts: 40 members at or past seq 1, 3 at or past seq 2; alice herself has read up to 2
  s.applyRead(g, 'alice', 2);
  s.applyReadCounts({ conversation: g, head: 2, fromSeq: 1, counts: [{ seq: 1, readers: 40 }, { seq: 2, readers: 3 }] });
  assert.equal(s.readersOf(g, 1), 39);
  assert.equal(s.readersOf(g, 2), 2);
});

test('a recall event hides the message it names, loaded before or after it, and drops its content', () => {
  const s = new ChatState('alice');
  s.applyMessages([msg(1, 'bob', { body: { secret: true }, ext: { k: 'v' } }), msg(2)]);
  const event = (seq, target) => ({ conversation: conv, seq, sender: 'bob', type: 'recall.event', serverTime: 9,
    clientMsgId: 'command:recall:r1', recall: { seq: target, by: 'bob', at: 9 } });
  s.applyMessages([event(3, 1)]);
  const shown = s.timeline(conv);
  assert.deepEqual(shown.map((m) => [m.seq, m.type]), [[1, 'recalled'], [2, 'text']], 'the event itself is not a line');
  assert.equal(shown[0].body, undefined, 'content dropped');
  assert.equal(shown[0].ext, undefined);
  assert.equal(shown[0].recalledBy, 'bob');
  assert.equal(shown[0].sender, 'bob', 'sender and seq kept');
  // the event came first (history paged backwards later): the message is hidden when it arrives
  const t = new ChatState('alice');
  t.startAt(conv, 2);
  t.applyMessages([event(3, 1)]);
  t.applyMessages([msg(1, 'bob', { body: { secret: true } })]);
  assert.equal(t.timeline(conv)[0].type, 'recalled');
  assert.equal(t.timeline(conv)[0].body, undefined);
});

test('a tombstone from the server shows as recalled, and an own recall applies at once', () => {
  const s = new ChatState('alice');
  s.applyMessages([{ conversation: conv, seq: 1, sender: 'alice', type: 'recalled', clientMsgId: 'x1' }, msg(2, 'alice')]);
  assert.equal(s.timeline(conv)[0].type, 'recalled');
  s.markRecalled(conv, 2, 'alice', 5);
  assert.equal(s.timeline(conv)[1].type, 'recalled');
  assert.equal(s.conversation(conv).last.type, 'recalled', 'the list preview follows');
  s.applyMessages([{ conversation: conv, seq: 3, sender: 'alice', type: 'recall.event', clientMsgId: 'command:recall:1',
    recall: { seq: 2, by: 'alice', at: 5 } }]);
  assert.deepEqual(s.timeline(conv).map((m) => m.seq), [1, 2]);
});

test('an own upload is pending with its progress, then its body, then sent; a refusal fails it', () => {
  const s = new ChatState('alice');
  const upload = { name: 'cat.png', size: 100, contentType: 'image/png', loaded: 0 };
  s.addPending(conv, { clientMsgId: 'u1', conversation: conv, sender: 'alice', type: 'image', upload });
  assert.equal(s.updatePending('u1', { upload: { ...upload, loaded: 40 } }).id, conv);
  assert.equal(s.timeline(conv)[0].upload.loaded, 40);
  assert.equal(s.stateOf(conv, s.timeline(conv)[0]), MessageState.SENDING);
  s.updatePending('u1', { body: { type_url: 'x' }, upload: undefined });
  s.applyAck('u1', { messageId: 'm1', conversation: conv, seq: 1, serverTime: 5 });
  const sent = s.timeline(conv)[0];
  assert.equal(sent.seq, 1);
  assert.equal(sent.upload, undefined);
  assert.equal(s.updatePending('nope', {}), null);

  s.addPending(conv, { clientMsgId: 'u2', conversation: conv, sender: 'alice', type: 'file', upload });
  s.fail('u2', 'QUOTA_EXCEEDED: alice stores 1073741824 of 1073741824 bytes');
  const failed = s.timeline(conv)[1];
  assert.equal(s.stateOf(conv, failed), MessageState.FAILED);
  assert.match(failed.failed, /^QUOTA_EXCEEDED/);
});

test('a recalled image or file keeps no body: nothing left to show or download', () => {
  const s = new ChatState('bob');
  s.applyMessages([msg(1, 'alice', { type: 'image', body: { type_url: 'type.googleapis.com/parley.file.v1.Image' } }),
    msg(2, 'alice', { type: 'file', body: { type_url: 'type.googleapis.com/parley.file.v1.File' } })]);
  s.applyMessages([{ conversation: conv, seq: 3, sender: 'alice', type: 'recall.event', clientMsgId: 'command:recall:r',
    recall: { seq: 1, by: 'alice', at: 9 } }]);
  s.markRecalled(conv, 2, 'alice', 10);
  for (const m of s.timeline(conv)) {
    assert.equal(m.type, 'recalled');
    assert.equal(m.body, undefined);
  }
});

test('kept group receipts are restored without lowering what arrived since; ReadCounts only when newer', () => {
  const s = new ChatState('alice');
  const g = 'g:team';
  s.applyRead(g, 'bob', 5);
  s.applyRead(g, 'alice', 5);  // the own cursor is no receipt
  s.applyRead('d:alice:bob', 'bob', 3); // nor is a 1:1 cursor (the conversation list has it)
  s.applyReadCounts({ conversation: 'g:big', head: 9, fromSeq: 1, counts: [{ seq: 9, readers: 4 }] });
  const kept = JSON.parse(JSON.stringify(s.receipts()));
  assert.deepEqual(Object.keys(kept).sort(), ['g:big', g]);
  assert.deepEqual(kept[g].readers, { bob: 5 });

  const later = new ChatState('alice');
  later.applyRead(g, 'bob', 7);
  later.applyReadCounts({ conversation: 'g:big', head: 12, fromSeq: 1, counts: [{ seq: 12, readers: 6 }] });
  later.restoreReceipts({ ...kept, 'd:alice:bob': { readers: { bob: 99 } }, 'g:bad': 'x' });
  later.restoreReceipts(null);
  later.applyMessages([{ conversation: g, seq: 1, sender: 'alice', type: 'text' }]);
  assert.equal(later.conversation(g).readers.get('bob'), 7, 'a kept cursor never lowers a newer one');
  assert.equal(later.readersOf('g:big', 12), 6, 'newer ReadCounts win over kept ones');
  assert.equal(later.conversation('d:alice:bob').peerRead, 0, 'only groups are restored');
  const fresh = new ChatState('alice');
  fresh.restoreReceipts(kept);
  assert.equal(fresh.readersOf(g, 5), 1);
  assert.equal(fresh.readersOf('g:big', 9), 4);
});
