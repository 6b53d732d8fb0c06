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

test('files, images and stickers: bodies packed as Any, shown back; pending uploads and unknown stickers', async () => {
  const file = messageTypes.file.compose({ key: 'f/alice/20261206/abc', name: 'notes.txt', size: 12,
    contentType: 'text/plain', sha256: 'ab'.repeat(32) });
  assert.equal(file.type_url, 'type.googleapis.com/parley.file.v1.File');
  const sent = decodeFrame(encodeFrame({ requestId: 1, send: { clientMsgId: 'x', peer: 'bob', type: 'file', body: file } }));
  assert.deepEqual(viewOf({ type: 'file', body: sent.send.body }),
    { text: '📎 notes.txt', file: { name: 'notes.txt', size: 12, contentType: 'text/plain' } });

  const generated = (await import('../target/gen/protocol.js')).parley;
  const { Image } = generated.file.v1;
  const { Sticker } = generated.sticker.v1;
  const image = messageTypes.image.compose({ key: 'f/alice/20261206/def', name: 'cat.png', size: 2048,
    contentType: 'image/png', sha256: 'cd'.repeat(32) });
  assert.equal(image.type_url, 'type.googleapis.com/parley.file.v1.Image');
  assert.equal(Image.decode(image.value).width, 0, 'dimensions are the server\'s to set');
  assert.equal(Image.decode(messageTypes.image.compose({ name: 'x', width: 640, height: 400 }).value).height, 400,
    'or what the browser read, for the own copy');
  // as stored: the server filled in the dimensions and the thumbnail
  const stored = { type_url: image.type_url, value: Image.encode(Image.fromObject({ ...Image.decode(image.value),
    width: 800, height: 600, thumbnailKey: 'f/alice/20261206/def.thumb', thumbnailWidth: 320, thumbnailHeight: 240 }))
    .finish() };
  assert.deepEqual(viewOf({ type: 'image', body: stored }), { text: '🖼 cat.png', image: { name: 'cat.png', size: 2048,
    contentType: 'image/png', width: 800, height: 600, thumbnailWidth: 320, thumbnailHeight: 240 } });
  // an own image still uploading has no body yet: the upload names it
  assert.equal(viewOf({ type: 'image', upload: { name: 'big.jpg', size: 9, contentType: 'image/jpeg', loaded: 3 } })
    .image.name, 'big.jpg');

  const sticker = messageTypes.sticker.compose({ pack: 'cats', sticker: 'hi' });
  assert.equal(sticker.type_url, 'type.googleapis.com/parley.sticker.v1.Sticker');
  assert.deepEqual(Sticker.toObject(Sticker.decode(sticker.value)), { pack: 'cats', sticker: 'hi' });
  const delivered = { type_url: sticker.type_url, value: Sticker.encode(Sticker.fromObject({ pack: 'cats', sticker: 'hi',
    name: 'Hi there', imageKey: 's/cats/hi/aa', contentType: 'image/png', width: 128, height: 96 })).finish() };
  assert.deepEqual(viewOf({ type: 'sticker', body: delivered }), { text: '[sticker: Hi there]', sticker: { pack: 'cats',
    sticker: 'hi', name: 'Hi there', imageKey: 's/cats/hi/aa', width: 128, height: 96 } });
  assert.equal(viewOf({ type: 'sticker', body: sticker }).text, '[sticker: hi]', 'no name yet: its id');
  assert.equal(viewOf({ type: 'image', body: null }).unsupported, true, 'no body and no upload: unreadable');
});

test('file and sticker commands: payloads and answers', async () => {
  const { uploadRequestPayload, uploadTicketOf, downloadRequestPayload, downloadTicketOf, stickerListPayload,
    stickerCatalogOf } = await import('../src/wire.js');
  const g = (await import('../target/gen/protocol.js')).parley;
  const up = uploadRequestPayload({ name: 'a.txt', size: 3, contentType: 'text/plain' });
  assert.equal(up.type_url, 'type.googleapis.com/parley.file.v1.UploadRequest');
  assert.deepEqual(g.file.v1.UploadRequest.toObject(g.file.v1.UploadRequest.decode(up.value), { longs: Number }),
    { name: 'a.txt', size: 3, contentType: 'text/plain' });
  const pack = (type, message, value) => ({ type_url: `type.googleapis.com/${type}`,
    value: message.encode(message.fromObject(value)).finish() });
  const ticket = uploadTicketOf(pack('parley.file.v1.UploadTicket', g.file.v1.UploadTicket, { key: 'f/a/1/x',
    ticket: 'tk', uploadUrl: 'http://127.0.0.1:7702/blobs/f/a/1/x', size: 3, contentType: 'text/plain',
    expiresAt: 1765000000000, chunkMaxBytes: 8388608 }));
  assert.deepEqual(ticket, { key: 'f/a/1/x', ticket: 'tk', uploadUrl: 'http://127.0.0.1:7702/blobs/f/a/1/x', size: 3,
    contentType: 'text/plain', expiresAt: 1765000000000, chunkMaxBytes: 8388608 });
  assert.equal(uploadTicketOf(up), null, 'not a ticket');

  const down = downloadRequestPayload('d:alice:bob', 7);
  assert.equal(g.file.v1.DownloadRequest.decode(down.value).conversation, 'd:alice:bob');
  assert.deepEqual(downloadTicketOf(pack('parley.file.v1.DownloadTicket', g.file.v1.DownloadTicket, { url: 'u',
    thumbnailUrl: 't', expiresAt: 5 })), { url: 'u', thumbnailUrl: 't', expiresAt: 5 });

  assert.equal(stickerListPayload().type_url, 'type.googleapis.com/parley.sticker.v1.StickerListRequest');
  const catalog = stickerCatalogOf(pack('parley.sticker.v1.StickerCatalog', g.sticker.v1.StickerCatalog, {
    expiresAt: 9, packs: [{ id: 'cats', name: 'Cats', version: 2, stickers: [{ id: 'hi', name: 'Hi', url: 'u',
      imageKey: 'k', width: 1, height: 2, contentType: 'image/png', size: 70 }] }] }));
  assert.equal(catalog.expiresAt, 9);
  assert.equal(catalog.packs[0].stickers[0].url, 'u');
  assert.equal(catalog.packs[0].version, 2);
});
