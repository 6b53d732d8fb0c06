// files.js: what a chosen file is sent as, the resumable chunked upload against a scripted blob endpoint, stickers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { contentTypeOf, describeError, formatSize, kindOf, localExpiry, percent, safeName, sha256Hex,
  StickerCatalog, uploadBytes, UploadError } from '../src/files.js';

test('images by the browser-detected type, everything else as a file; content types without parameters', () => {
  for (const t of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'IMAGE/PNG']) assert.equal(kindOf(t), 'image', t);
  for (const t of ['image/bmp', 'image/svg+xml', 'text/plain', '', undefined]) assert.equal(kindOf(t), 'file', String(t));
  assert.equal(contentTypeOf('text/plain;charset=utf-8'), 'text/plain');
  assert.equal(contentTypeOf(''), 'application/octet-stream');
  assert.equal(contentTypeOf('not a type'), 'application/octet-stream');
});

test('names the server accepts, sizes and percentages people read', () => {
  assert.equal(safeName('a/b\\c\u0001.txt'), 'a_b_c_.txt');
  assert.equal(safeName(''), 'file');
  assert.equal([...safeName('x'.repeat(300))].length, 255);
  assert.equal(formatSize(512), '512 B');
  assert.equal(formatSize(1536), '1.5 KB');
  assert.equal(formatSize(12 * 1024 * 1024), '12 MB');
  assert.equal(percent(0, 10), 0);
  assert.equal(percent(999, 1000), 99, 'not 100 before the last byte');
  assert.equal(percent(1000, 1000), 100);
  assert.equal(percent(5, 0), 0);
});

test('sha256 in lower-case hex, as the server computes it', async () => {
  const bytes = new TextEncoder().encode('hello parley');
  assert.equal(await sha256Hex(bytes), createHash('sha256').update(bytes).digest('hex'));
});

test('errors are shown with their code: the server\'s reason stays readable', () => {
  assert.equal(describeError({ code: 'ERROR_CODE_QUOTA_EXCEEDED', message: 'alice stores 5 of 5 bytes' }),
    'QUOTA_EXCEEDED: alice stores 5 of 5 bytes');
  assert.equal(describeError(new UploadError('BODY_TOO_LARGE', 'chunk over 8388608 bytes')),
    'BODY_TOO_LARGE: chunk over 8388608 bytes');
  assert.equal(describeError(new Error('plain')), 'plain');
});

/**
 * The blob endpoint of docs/protocol.md §6f for one ticket, in memory. `fault(request, stored)` may return
 * 'drop' (no answer, nothing stored), 'lost' (stored, the answer lost), {half: true} (half the chunk stored, no
 * answer) or {status, error} (an error answer).
 */
function blobEndpoint({ size, ticket = 't1', fault = () => null }) {
  const received = [];
  const requests = [];
  let stored = 0;
  const json = (status, body, headers = {}) => ({ status, text: JSON.stringify(body),
    header: (n) => headers[n] ?? null });
  const http = async (r) => {
    requests.push({ method: r.method, offset: r.headers['Upload-Offset'], length: r.body?.length ?? 0 });
    if (r.headers.Authorization !== `Bearer ${ticket}`) {
      return json(401, { error: { code: 'UNAUTHENTICATED', message: 'ticket expired' } });
    }
    if (r.method === 'HEAD') return json(200, {}, { 'Upload-Offset': String(stored), 'Upload-Length': String(size) });
    const f = fault(r, stored);
    if (f === 'drop') throw new Error('connection reset');
    if (f?.status) return json(f.status, { error: f.error }, f.headers || {});
    if (Number(r.headers['Upload-Offset']) !== stored) {
      return json(409, { error: { code: 'CONFLICT', message: `Upload-Offset is ${stored}` } },
        { 'Upload-Offset': String(stored) });
    }
    assert.equal(r.headers['Content-Type'], 'application/offset+octet-stream');
    const body = f?.half ? r.body.subarray(0, Math.floor(r.body.length / 2)) : r.body;
    r.onUploadProgress?.(Math.floor(body.length / 2));
    r.onUploadProgress?.(body.length);
    received.push(...body);
    stored += body.length;
    if (f === 'lost' || f?.half) throw new Error('connection reset after the bytes');
    if (stored === size) {
      return json(201, { key: 'k', size, content_type: 'application/pdf',
        sha256: createHash('sha256').update(Uint8Array.from(received)).digest('hex') }, { 'Upload-Offset': String(size) });
    }
    return json(204, {}, { 'Upload-Offset': String(stored) });
  };
  return { http, requests, received: () => Uint8Array.from(received) };
}

const bytesOf = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 251);
const ticketFor = (size, chunkMaxBytes) => ({ ticket: 't1', uploadUrl: 'http://127.0.0.1:7702/blobs/f/alice/x',
  size, chunkMaxBytes, key: 'f/alice/x' });
const noSleep = async () => {};

test('uploads in chunks of chunk_max_bytes with the ticket and offsets; progress per chunk, to 100%', async () => {
  const bytes = bytesOf(25);
  const server = blobEndpoint({ size: 25 });
  const progress = [];
  const result = await uploadBytes({ bytes, ticket: ticketFor(25, 10), http: server.http,
    onProgress: (loaded, total) => progress.push([loaded, total]) });
  assert.deepEqual(server.requests.map((r) => [r.method, r.offset, r.length]),
    [['PATCH', '0', 10], ['PATCH', '10', 10], ['PATCH', '20', 5]]);
  assert.deepEqual(server.received(), bytes);
  assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
  const loaded = progress.map(([l]) => l);
  assert.deepEqual(loaded, [...loaded].sort((a, b) => a - b), 'progress never goes back');
  assert.ok(loaded.includes(15), 'progress inside a chunk (upload progress events)');
  assert.deepEqual(progress.at(-1), [25, 25]);
});

test('a chunk without an answer is resumed from where HEAD says the bytes stop', async () => {
  const bytes = bytesOf(30);
  let n = 0;
  const server = blobEndpoint({ size: 30, fault: () => (++n === 2 ? { half: true } : n === 3 ? 'lost' : null) });
  const result = await uploadBytes({ bytes, ticket: ticketFor(30, 10), http: server.http, sleep: noSleep });
  assert.deepEqual(server.received(), bytes, 'every byte once, in order');
  assert.deepEqual(server.requests.map((r) => [r.method, r.offset ?? null]),
    [['PATCH', '0'], ['PATCH', '10'], ['HEAD', null], ['PATCH', '15'], ['HEAD', null], ['PATCH', '25']]);
  assert.ok(result.sha256);
});

test('busy answers (503) are retried after Retry-After; an offset conflict (409) is followed', async () => {
  const bytes = bytesOf(20);
  let n = 0;
  const slept = [];
  const server = blobEndpoint({ size: 20, fault: () => (++n === 1
    ? { status: 503, error: { code: 'UNAVAILABLE', message: 'too many uploads' }, headers: { 'Retry-After': '2' } }
    : null) });
  await uploadBytes({ bytes, ticket: ticketFor(20, 10), http: server.http, sleep: async (ms) => slept.push(ms) });
  assert.deepEqual(server.received(), bytes);
  assert.ok(slept[0] >= 2000, `waited as asked: ${slept}`);

  // the answer to the last chunk was lost and the object completed: the 409 says so, nothing is sent twice
  let m = 0;
  const done = blobEndpoint({ size: 20, fault: () => (++m === 2 ? 'lost' : null) });
  const http = async (r) => (r.method === 'HEAD' ? { status: 503, text: '', header: () => null } : done.http(r));
  const result = await uploadBytes({ bytes, ticket: ticketFor(20, 10), http, sleep: noSleep });
  assert.deepEqual(done.received(), bytes);
  assert.equal(result.sha256, null, 'the completing answer was lost');
});

test('retries are bounded; refusals end the upload at once with the server\'s error', async () => {
  const dead = blobEndpoint({ size: 10, fault: () => 'drop' });
  await assert.rejects(uploadBytes({ bytes: bytesOf(10), ticket: ticketFor(10, 10), http: dead.http, sleep: noSleep,
    maxRetries: 3 }), (e) => e.code === 'NETWORK' && /interrupted/.test(e.message));
  assert.equal(dead.requests.filter((r) => r.method === 'PATCH').length, 4, 'the first try and 3 more');

  const tooLarge = blobEndpoint({ size: 10, fault: () => ({ status: 413,
    error: { code: 'BODY_TOO_LARGE', message: 'the chunk passes the ticket\'s size' } }) });
  await assert.rejects(uploadBytes({ bytes: bytesOf(10), ticket: ticketFor(10, 10), http: tooLarge.http,
    sleep: noSleep }), (e) => e.code === 'BODY_TOO_LARGE' && e.status === 413 && /ticket's size/.test(e.message));
  assert.equal(tooLarge.requests.length, 1, 'not retried');

  const expired = blobEndpoint({ size: 10, ticket: 'other' });
  await assert.rejects(uploadBytes({ bytes: bytesOf(10), ticket: ticketFor(10, 10), http: expired.http,
    sleep: noSleep }), (e) => e.code === 'UNAUTHENTICATED' && e.message === 'ticket expired');

  await assert.rejects(uploadBytes({ bytes: bytesOf(9), ticket: ticketFor(10, 10), http: expired.http }),
    /ticket is for 10 bytes/);
});

test('sticker catalog: by image key (pack and sticker before the ack), withdrawn packs left out, stale before expiry', () => {
  const now = 1_000_000;
  const catalog = new StickerCatalog({ expiresAt: now + 300_000, packs: [
    { id: 'cats', name: 'Cats', stickers: [{ id: 'hi', name: 'Hi', url: 'http://h/blobs/s/cats/hi/aa?ticket=x',
      imageKey: 's/cats/hi/aa', width: 256, height: 256 }] },
    { id: 'old', name: 'Old', withdrawn: true, stickers: [{ id: 'x', url: 'u', imageKey: 'k' }] },
  ] }, null, now);
  assert.deepEqual(catalog.packs.map((p) => p.id), ['cats']);
  assert.equal(catalog.lookup('cats', 'hi').name, 'Hi');
  assert.equal(catalog.lookup('cats', 'hi', 's/cats/hi/aa').name, 'Hi', 'the image the message names');
  assert.equal(catalog.lookup('cats', 'hi', 's/cats/hi/bb'), null, 'the pack has another image under that id now');
  assert.equal(catalog.lookup('cats', 'renamed', 's/cats/hi/aa').name, 'Hi', 'the image is what counts');
  assert.equal(catalog.lookup('old', 'x'), null);
  assert.equal(catalog.lookup('dogs', 'hi'), null);
  assert.equal(catalog.stale(now), false);
  assert.equal(catalog.stale(now + 280_000), true, 'asked again before the URLs expire');
  assert.equal(new StickerCatalog(null).stale(now), true, 'nothing asked yet');
  // a server whose clock is behind: its URLs look expired here, yet they are not asked for again at once
  const skewed = new StickerCatalog({ expiresAt: now - 10_000, packs: [] }, null, now);
  assert.equal(skewed.stale(now), false);
  assert.equal(localExpiry(now - 10_000, now), now + 60_000);
  assert.equal(localExpiry(now + 300_000, now), now + 300_000);
});
