// Files, images and stickers without the DOM: what type a chosen file is sent as, the resumable chunked upload to the
// blob endpoints (docs/protocol.md §6e-6f) over an injected HTTP function, and the sticker catalog (§6g).
// Pure apart from the injected functions; tested under node.

/** What the page sends as an `image` (the browser's File.type); anything else goes as a `file`. */
export const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** @returns the content type to ask a ticket for: the browser's type without parameters, or application/octet-stream */
export function contentTypeOf(browserType) {
  const t = String(browserType || '').split(';')[0].trim().toLowerCase();
  return MEDIA_TYPE.test(t) ? t : 'application/octet-stream';
}

/** @returns 'image' for the types in IMAGE_TYPES, else 'file' */
export function kindOf(browserType) {
  return IMAGE_TYPES.has(contentTypeOf(browserType)) ? 'image' : 'file';
}

/** @returns a file name the server accepts (1-255 characters, no control characters, no / or \) */
export function safeName(name) {
  // eslint-disable-next-line no-control-regex
  const cleaned = String(name || '').replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim();
  return [...(cleaned || 'file')].slice(0, 255).join('');
}

/** @returns bytes as people read them: "512 B", "1.5 KB", "12 MB" (1 KB = 1024 B) */
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** @returns whole percent of loaded/total, 0-100 (100 only when all is loaded) */
export function percent(loaded, total) {
  if (!total) return 0;
  const p = Math.floor((loaded / total) * 100);
  return Math.max(0, Math.min(loaded >= total ? 100 : 99, p));
}

/** @returns lower-case hex SHA-256 of the bytes (WebCrypto: the whole buffer at once) */
export async function sha256Hex(bytes, subtle = globalThis.crypto.subtle) {
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An upload refused or failed: `code` as the server names it (QUOTA_EXCEEDED, BODY_TOO_LARGE, …) or NETWORK. */
export class UploadError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** @returns "CODE: message" for a failure shown to people (ERROR_CODE_ prefixes of protocol errors dropped) */
export function describeError(e) {
  const code = String(e?.code || '').replace(/^ERROR_CODE_/, '');
  const message = e?.message || String(e);
  return code && !message.startsWith(code) ? `${code}: ${message}` : message;
}

/** @returns the UploadError an HTTP answer of the blob endpoints describes (JSON {"error": {code, message}}) */
function errorOf(response) {
  let code = `HTTP_${response.status}`;
  let message = `the upload was refused (HTTP ${response.status})`;
  try {
    const e = JSON.parse(response.text).error;
    if (e?.code) code = e.code;
    if (e?.message) message = e.message;
  } catch (ignored) { /* not JSON: keep the status */ }
  return new UploadError(code, message, response.status);
}

function offsetOf(response) {
  const v = response.header('Upload-Offset');
  return v !== null && v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

/** Answers worth another attempt after a pause: the server was busy or the request did not get through. */
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Uploads bytes to a ticket's upload_url in chunks of at most chunkMaxBytes (one PATCH each, docs/protocol.md §6f).
 * After a failed chunk (no answer, or a retryable status) it asks HEAD how many bytes arrived and goes on from there,
 * at most `maxRetries` times in a row; a 409 (offset mismatch) is followed from its Upload-Offset. Any other refusal
 * ends the upload with the server's error.
 *
 * @param options.bytes      Uint8Array of the whole file
 * @param options.ticket     the UploadTicket {ticket, uploadUrl, size, chunkMaxBytes}
 * @param options.http       async ({method, url, headers, body?, onUploadProgress?(sentOfBody)}) → {status,
 *                           header(name) → string | null, text}; rejects when no answer came (network, timeout)
 * @param options.onProgress (bytesConfirmedOrInFlight, total), called per chunk and as chunk bytes go out
 * @returns {{sha256: string | null}} what the server computed when the last chunk completed the object (null if
 *          that answer was lost and HEAD found the object complete)
 */
export async function uploadBytes({ bytes, ticket, http, onProgress = () => {}, maxRetries = 5,
  sleep = (ms) => new Promise((r) => setTimeout(r, ms)), backoffMs = (attempt) => Math.min(8000, 250 * 2 ** attempt) }) {
  const size = bytes.length;
  if (size !== Number(ticket.size)) throw new UploadError('INVALID_REQUEST', `the ticket is for ${ticket.size} bytes, not ${size}`);
  const chunkMax = Math.max(1, Number(ticket.chunkMaxBytes) || 8 << 20);
  const auth = { Authorization: `Bearer ${ticket.ticket}` };
  let offset = 0;
  let failures = 0;
  let sha256 = null;
  let lastError = null;
  onProgress(0, size);
  while (offset < size) {
    const end = Math.min(size, offset + chunkMax);
    const from = offset;
    let response = null;
    try {
      response = await http({ method: 'PATCH', url: ticket.uploadUrl, body: bytes.subarray(from, end),
        headers: { ...auth, 'Upload-Offset': String(from), 'Content-Type': 'application/offset+octet-stream' },
        onUploadProgress: (sent) => onProgress(from + Math.min(sent, end - from), size) });
    } catch (e) {
      lastError = new UploadError('NETWORK', `the upload was interrupted: ${e.message || e}`);
    }
    if (response && (response.status === 204 || response.status === 201)) {
      const next = offsetOf(response);
      offset = response.status === 201 ? size : (next ?? end);
      if (response.status === 201) {
        try {
          sha256 = JSON.parse(response.text).sha256 || null;
        } catch (ignored) { /* the completion stands; the message's sha256 is checked by the server */ }
      }
      failures = 0;
      onProgress(offset, size);
      continue;
    }
    if (response && response.status === 409) {
      // not where the server is (a chunk whose answer was lost arrived after all), or already complete
      const at = offsetOf(response);
      if (at === null || ++failures > maxRetries) throw errorOf(response);
      offset = at;
      onProgress(offset, size);
      continue;
    }
    if (response && !RETRY_STATUS.has(response.status)) throw errorOf(response);
    if (response) lastError = errorOf(response);
    if (++failures > maxRetries) throw lastError;
    const retryAfter = response ? Number(response.header('Retry-After')) * 1000 : 0;
    await sleep(Math.max(backoffMs(failures - 1), Number.isFinite(retryAfter) ? retryAfter : 0));
    try {
      const head = await http({ method: 'HEAD', url: ticket.uploadUrl, headers: auth });
      const at = head.status === 200 ? offsetOf(head) : null;
      if (at !== null) offset = at;
      else if (!RETRY_STATUS.has(head.status)) throw errorOf(head);
    } catch (e) {
      if (e instanceof UploadError) throw e;
      // no answer to HEAD either: the next PATCH tries from the same offset (a 409 corrects it)
    }
    onProgress(offset, size);
  }
  return { sha256 };
}

/**
 * @returns when a URL the server said works until expiresAt (its clock) is to be taken as expired here: never sooner
 *          than minLifetimeMs from now, so that a clock ahead of the server's cannot make the page ask again and again
 */
export function localExpiry(expiresAt, now, minLifetimeMs = 60_000) {
  return Math.max(Number(expiresAt) || 0, now + minLifetimeMs);
}

/**
 * The stickers of a `sticker.list` answer, by pack and sticker id. Image URLs work until `expiresAt` (epoch ms, see
 * localExpiry); `stale(now)` says when to ask again.
 */
export class StickerCatalog {
  /**
   * @param catalog the StickerCatalog {packs, expiresAt}, or null for none (no sticker bundle, then `error` says why)
   * @param now     epoch ms when the answer arrived
   */
  constructor(catalog, error = null, now = Date.now()) {
    this.packs = (catalog?.packs || []).filter((p) => !p.withdrawn);
    this.expiresAt = catalog ? localExpiry(catalog.expiresAt, now) : 0;
    this.error = error;
    this.byId = new Map();
    this.byKey = new Map();
    for (const p of this.packs) {
      for (const s of p.stickers || []) {
        if (!s.url) continue;
        this.byId.set(`${p.id}/${s.id}`, s);
        if (s.imageKey) this.byKey.set(s.imageKey, s);
      }
    }
  }

  /**
   * A stored sticker message names its image by key (the bytes under a key never change, docs/protocol.md §6g); an
   * own one not acknowledged yet names only pack and sticker.
   * @returns the catalog's entry {id, name, url, width, height, imageKey} with that image, or null when the catalog
   *          offers it no more (a withdrawn pack, a removed sticker, a sticker that has another image now)
   */
  lookup(pack, sticker, imageKey = '') {
    return (imageKey ? this.byKey.get(imageKey) : this.byId.get(`${pack}/${sticker}`)) ?? null;
  }

  /** @returns true when its URLs expire within marginMs (or it has none): time to ask sticker.list again */
  stale(now, marginMs = 30_000) {
    return this.expiresAt - marginMs <= now;
  }
}
