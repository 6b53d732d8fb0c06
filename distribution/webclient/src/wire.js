// Protocol v1 in the browser: the Frame codec (protobufjs static code generated at build time from framework-core's
// protocol.proto and the message types' .proto files; scripts/build.mjs) and the message types the client can show.
import * as generated from '../target/gen/protocol.js';
import { callLogLine } from './calls.js';
import { formatDuration } from './media.js';

const Frame = lookupType('parley.v1.Frame');
const TYPE_URL_PREFIX = 'type.googleapis.com/';

export const PROTOCOL_VERSION = 1;

const toObjectOptions = { longs: Number, enums: String, defaults: true, oneofs: true };

/** @returns a plain object of the frame (uint64 as number, enums as names, `op` naming the set oneof field) */
export function decodeFrame(bytes) {
  const decoded = Frame.decode(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  return Frame.toObject(decoded, toObjectOptions);
}

/** @param frame plain object with camelCase field names, e.g. {requestId: 1, hello: {...}} */
export function encodeFrame(frame) {
  const err = Frame.verify(frame);
  if (err) throw new Error(`bad frame: ${err}`);
  return Frame.encode(Frame.fromObject(frame)).finish();
}

/** @returns the generated class of a fully qualified message name, e.g. parley.text.v1.Text */
function lookupType(messageName) {
  const type = messageName.split('.').reduce((ns, part) => ns?.[part], generated);
  if (!type || typeof type.decode !== 'function') throw new Error(`unknown message type ${messageName}`);
  return type;
}

function anyOf(messageName, value) {
  const type = lookupType(messageName);
  // google.protobuf.Any keeps its snake_case field names in protobufjs's built-in descriptor
  return { type_url: TYPE_URL_PREFIX + messageName, value: type.encode(type.fromObject(value)).finish() };
}

function unpack(any, messageName) {
  if (!any || any.type_url !== TYPE_URL_PREFIX + messageName) return null;
  const type = lookupType(messageName);
  return type.toObject(type.decode(any.value), toObjectOptions);
}

const GROUP_EVENT_TEXT = {
  KIND_CREATED: (e) => `${e.actor} created the group “${e.name}” with ${e.users.join(', ')}`,
  KIND_MEMBERS_ADDED: (e) => `${e.actor} added ${e.users.join(', ')}`,
  KIND_MEMBERS_REMOVED: (e) => `${e.actor} removed ${e.users.join(', ')}`,
  KIND_MEMBER_LEFT: (e) => `${e.users.join(', ')} left`,
  KIND_DISSOLVED: (e) => `${e.actor} dissolved the group`,
  KIND_ROLE_CHANGED: (e) => `${e.actor} made ${e.users.join(', ')} ${e.role.replace('GROUP_ROLE_', '').toLowerCase()}`,
  KIND_MEMBER_MUTED: (e) => (Number(e.mutedUntil) > 0 ? `${e.actor} muted ${e.users.join(', ')}`
    : `${e.actor} unmuted ${e.users.join(', ')}`),
  KIND_GROUP_MUTED: (e) => (e.muted ? `${e.actor} muted the group` : `${e.actor} unmuted the group`),
  KIND_OWNER_CHANGED: (e) => `${e.actor} handed ownership to ${e.users.join(', ')}`,
};

export const RECALL_COMMAND = 'recall';
export const RECALLED_TYPE = 'recalled';
export const RECALL_EVENT_TYPE = 'recall.event';
export const FILE_UPLOAD_COMMAND = 'file.upload';
export const FILE_DOWNLOAD_COMMAND = 'file.download';
export const STICKER_LIST_COMMAND = 'sticker.list';

/** @returns the fields a File or Image body is sent with (the server fills in an image's dimensions and thumbnail) */
function fileFields(f) {
  return { key: f.key, name: f.name, size: f.size, contentType: f.contentType, sha256: f.sha256 };
}

/** @returns what a file or image message shows: its body, or for an own message still uploading, the upload */
function fileOf(body, messageName, m) {
  const f = unpack(body, messageName) ?? m?.upload;
  if (!f) throw new Error('no file');
  return f;
}

/**
 * The message types this client shows and sends. `compose` builds a Send body from what the user entered; `view`
 * turns a stored body (and the message, for system lines and own uploads, and the viewing user) into {text, big?,
 * system?, hidden?, recalled?, file?, image?, sticker?, voice?, video?, call?} for display (`hidden`: not a line of
 * the timeline, only a list preview): `text` is what a list preview shows; `file`, `image` and `sticker` carry what
 * the page draws instead. A type without an entry is shown as unsupported.
 */
export const messageTypes = {
  text: {
    compose: (text) => anyOf('parley.text.v1.Text', { text }),
    view: (body) => ({ text: unpack(body, 'parley.text.v1.Text')?.text ?? '' }),
  },
  emoji: {
    compose: (emoji) => anyOf('parley.emoji.v1.Emoji', { emoji }),
    view: (body) => ({ text: unpack(body, 'parley.emoji.v1.Emoji')?.emoji ?? '', big: true }),
  },
  // {key, name, size, contentType, sha256} of a completed upload (docs/protocol.md §6e)
  file: {
    compose: (f) => anyOf('parley.file.v1.File', fileFields(f)),
    view: (body, m) => {
      const f = fileOf(body, 'parley.file.v1.File', m);
      return { text: `📎 ${f.name}`, file: { name: f.name, size: Number(f.size), contentType: f.contentType } };
    },
  },
  // the same, and the dimensions as the sending browser read them (the server replaces them with its own)
  image: {
    compose: (f) => anyOf('parley.file.v1.Image', { ...fileFields(f), width: f.width || 0, height: f.height || 0 }),
    view: (body, m) => {
      const f = fileOf(body, 'parley.file.v1.Image', m);
      return { text: `🖼 ${f.name}`, image: { name: f.name, size: Number(f.size), contentType: f.contentType,
        width: f.width || 0, height: f.height || 0, thumbnailWidth: f.thumbnailWidth || 0,
        thumbnailHeight: f.thumbnailHeight || 0 } };
    },
  },
  // {pack, sticker}: the server fills in name, image and size from the pack (docs/protocol.md §6g)
  sticker: {
    compose: (s) => anyOf('parley.sticker.v1.Sticker', { pack: s.pack, sticker: s.sticker }),
    view: (body) => {
      const s = unpack(body, 'parley.sticker.v1.Sticker');
      if (!s) throw new Error('no sticker');
      return { text: `[sticker: ${s.name || s.sticker}]`, sticker: { pack: s.pack, sticker: s.sticker,
        name: s.name || s.sticker, imageKey: s.imageKey, width: s.width || 0, height: s.height || 0 } };
    },
  },
  // {key, size, contentType, sha256, durationMs, waveform} of a completed upload of a recording (docs/protocol.md
  // §6h); the server reads the duration from the container and stores its own
  voice: {
    compose: (v) => anyOf('parley.voice.v1.Voice', { key: v.key, size: v.size, contentType: v.contentType,
      sha256: v.sha256, durationMs: Math.max(0, Math.round(v.durationMs || 0)), waveform: v.waveform }),
    view: (body, m) => {
      const v = unpack(body, 'parley.voice.v1.Voice') ?? m?.recording;
      if (!v) throw new Error('no voice message');
      const durationMs = Number(v.durationMs) || 0;
      return { text: `🎤 Voice message (${formatDuration(durationMs)})`, voice: { durationMs, size: Number(v.size),
        contentType: v.contentType, waveform: Uint8Array.from(v.waveform || []) } };
    },
  },
  // the clip's upload and its poster's ({posterKey, posterSize, posterSha256, posterContentType}); the server sets
  // duration, width and height from the container and the poster's size from its header
  video: {
    compose: (v) => anyOf('parley.video.v1.Video', { key: v.key, size: v.size, contentType: v.contentType,
      sha256: v.sha256, durationMs: Math.max(0, Math.round(v.durationMs || 0)), width: v.width || 0,
      height: v.height || 0, ...(v.posterKey ? { posterKey: v.posterKey, posterSize: v.posterSize,
        posterSha256: v.posterSha256, posterContentType: v.posterContentType, posterWidth: v.posterWidth || 0,
        posterHeight: v.posterHeight || 0 } : {}) }),
    view: (body, m) => {
      const v = unpack(body, 'parley.video.v1.Video') ?? m?.recording;
      if (!v) throw new Error('no video message');
      const durationMs = Number(v.durationMs) || 0;
      return { text: `🎬 Video (${formatDuration(durationMs)})`, video: { durationMs, size: Number(v.size),
        contentType: v.contentType, width: v.width || 0, height: v.height || 0, poster: Boolean(v.posterKey),
        posterWidth: v.posterWidth || 0, posterHeight: v.posterHeight || 0 } };
    },
  },
  // a call's state change, appended by the server (docs/protocol.md §6i): terminal states are call log lines,
  // RINGING and ACCEPTED show in the conversation list only
  call: {
    view: (body, m, me) => {
      const e = callEventOf(m);
      if (!e) throw new Error('no call event');
      const line = callLogLine(e, me, m?.conversation);
      return { text: line.text, system: true, hidden: line.hidden, call: e };
    },
  },
  // a recalled message (the tombstone the server keeps in its place, or a message this client hid on a recall event)
  [RECALLED_TYPE]: {
    view: () => ({ text: 'message recalled', recalled: true }),
  },
  // the event announcing a recall: applied to the message it names (state.js), shown as a line in previews only
  [RECALL_EVENT_TYPE]: {
    view: (body, m) => ({ text: `${m?.sender ?? 'someone'} recalled a message`, system: true }),
  },
  'group.event': {
    view: (body) => {
      const e = unpack(body, 'parley.v1.GroupEvent');
      const describe = e && GROUP_EVENT_TEXT[e.kind];
      return { text: describe ? describe(e) : 'group changed', system: true };
    },
  },
};

/**
 * @param me the signed-in user (call lines say "You" and "Outgoing" for their own)
 * @returns how to display a message: what its type's view returns, or {text, unsupported: true}
 */
export function viewOf(message, me = '') {
  const type = messageTypes[message.type];
  if (!type) return { text: `[${message.type} message: not supported by this client]`, unsupported: true };
  try {
    return type.view(message.body, message, me);
  } catch (e) {
    return { text: `[unreadable ${message.type} message]`, unsupported: true };
  }
}

/** @returns the Any payload of a recall command for the message at seq in conversation */
export function recallPayload(conversation, seq) {
  return anyOf('parley.recall.v1.Recall', { conversation, seq });
}

/** @returns the RecallResult {conversation, seq, eventSeq, recalledBy, recalledAt} of a recall command's answer */
export function recallResultOf(any) {
  return unpack(any, 'parley.recall.v1.RecallResult');
}

/**
 * @returns for a recall event, the recall it announces: {seq, by, at} (its sender recalled the message at seq at its
 *          server time); null for anything else. Only what the server appended for a command counts: such messages
 *          carry a client_msg_id starting with "command:", which no client may send with.
 */
export function recallEventOf(message) {
  if (message.type !== RECALL_EVENT_TYPE || !String(message.clientMsgId || '').startsWith('command:')) return null;
  const e = unpack(message.body, 'parley.recall.v1.RecallEvent');
  return e && e.seq ? { seq: Number(e.seq), by: message.sender, at: Number(message.serverTime) } : null;
}

/** @returns the Any payload of a file.upload command */
export function uploadRequestPayload({ name, size, contentType }) {
  return anyOf('parley.file.v1.UploadRequest', { name, size, contentType });
}

/** @returns the UploadTicket {key, ticket, uploadUrl, size, contentType, expiresAt, chunkMaxBytes} of an answer */
export function uploadTicketOf(any) {
  return unpack(any, 'parley.file.v1.UploadTicket');
}

/** @returns the Any payload of a file.download command for the file or image message at seq */
export function downloadRequestPayload(conversation, seq) {
  return anyOf('parley.file.v1.DownloadRequest', { conversation, seq });
}

/** @returns the DownloadTicket {url, thumbnailUrl, expiresAt} of a file.download answer */
export function downloadTicketOf(any) {
  return unpack(any, 'parley.file.v1.DownloadTicket');
}

/** @returns the Any payload of a sticker.list command */
export function stickerListPayload() {
  return anyOf('parley.sticker.v1.StickerListRequest', {});
}

/** @returns the StickerCatalog {packs: [{id, name, version, stickers: [{id, name, url, ...}]}], expiresAt} */
export function stickerCatalogOf(any) {
  return unpack(any, 'parley.sticker.v1.StickerCatalog');
}

// ------------------------------------------------------------------------------------------------ calls (§6i)

export const CALL_TYPE = 'call';
export const CALL_SIGNAL_TYPE = 'call.signal';
export const CALL_COMMANDS = Object.freeze({ start: 'call.start', join: 'call.join', reject: 'call.reject',
  hangup: 'call.hangup', signal: 'call.signal', turn: 'call.turn' });

/**
 * @returns the CallEvent {callId, state, media, initiator, invited, by, byDevice, durationMs, startedAt, reason} of a
 *          stored `call` message, or null: only what the server appended counts (client_msg_id "command:…", which no
 *          Send may use)
 */
export function callEventOf(message) {
  if (!message || message.type !== CALL_TYPE || !String(message.clientMsgId || '').startsWith('command:')) return null;
  return unpack(message.body, 'parley.call.v1.CallEvent');
}

/** @returns the Signal {callId, fromUser, fromDevice, kind, data} of a relayed call.signal message (seq 0), or null */
export function callSignalOf(message) {
  if (!message || message.type !== CALL_SIGNAL_TYPE || Number(message.seq)) return null;
  return unpack(message.body, 'parley.call.v1.Signal');
}

/** @returns the Any payload of call.start: {peer} or {conversation}, media 'AUDIO' | 'VIDEO', invite (groups) */
export function callStartPayload({ peer, conversation, media, invite = [] }) {
  return anyOf('parley.call.v1.CallStart', { ...(peer ? { peer } : { conversation }), media, invite });
}

export function callJoinPayload(callId) {
  return anyOf('parley.call.v1.CallJoin', { callId });
}

export function callRejectPayload(callId) {
  return anyOf('parley.call.v1.CallReject', { callId });
}

export function callHangupPayload(callId) {
  return anyOf('parley.call.v1.CallHangup', { callId });
}

/** @param s {callId, toUser, toDevice, kind ('OFFER' | 'ANSWER' | 'CANDIDATE' | 'BYE' | 'RENEGOTIATE'), data, token} */
export function callSignalPayload(s) {
  return anyOf('parley.call.v1.CallSignal', { callId: s.callId, toUser: s.toUser, toDevice: s.toDevice, kind: s.kind,
    data: s.data || '', token: s.token });
}

/** @returns CallStarted {callId, roomId, token, expiresAt, iceServers, ringingSeq, busy, conversation} */
export function callStartedOf(any) {
  return unpack(any, 'parley.call.v1.CallStarted');
}

/** @returns CallJoined {callId, roomId, token, iceServers, participants: [{user, device}], media, expiresAt, conversation} */
export function callJoinedOf(any) {
  return unpack(any, 'parley.call.v1.CallJoined');
}

/** @returns CallUpdate {callId, state, eventSeq} */
export function callUpdateOf(any) {
  return unpack(any, 'parley.call.v1.CallUpdate');
}
