// Protocol v1 in the browser: the Frame codec (protobufjs static code generated at build time from framework-core's
// protocol.proto and the message types' .proto files; scripts/build.mjs) and the message types the client can show.
import * as generated from '../target/gen/protocol.js';

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

/**
 * The message types this client shows and sends. `compose` builds a Send body from what the user entered; `view`
 * turns a stored body into {text, big?, system?} for display. A type without an entry is shown as unsupported.
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
  'group.event': {
    view: (body) => {
      const e = unpack(body, 'parley.v1.GroupEvent');
      const describe = e && GROUP_EVENT_TEXT[e.kind];
      return { text: describe ? describe(e) : 'group changed', system: true };
    },
  },
};

/** @returns how to display a message: {text, big?, system?, unsupported?} */
export function viewOf(message) {
  const type = messageTypes[message.type];
  if (!type) return { text: `[${message.type} message: not supported by this client]`, unsupported: true };
  try {
    return type.view(message.body);
  } catch (e) {
    return { text: `[unreadable ${message.type} message]`, unsupported: true };
  }
}
