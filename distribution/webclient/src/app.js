// The page: sign-in, conversation list, conversation view, recording voice and video messages, calls. All
// user-supplied text is set with textContent; URLs that carry tickets reach the DOM only as an image's or a media
// element's src (thumbnails, stickers, posters, the opened image, a played voice or video message) or for the moment
// of a download.
import { ChatClient } from './client.js';
import { describeError, formatSize, percent } from './files.js';
import { dayKey, dayLabel, messageTime } from './format.js';
import { barsOf, fitWithin, formatDuration } from './media.js';
import { Recording } from './recorder.js';
import { directConversation, isGroup, peerOf } from './state.js';
import { viewOf } from './wire.js';

const ROLE_NAMES = { GROUP_ROLE_OWNER: 'owner', GROUP_ROLE_ADMIN: 'admin', GROUP_ROLE_MEMBER: 'member' };
/** Stickers are shown at most this many CSS pixels on their longer side (in messages; half that in the panel). */
const STICKER_SIDE = 128;

const EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
const $ = (id) => document.getElementById(id);

/** @returns the JWT's subject (not verified here: the server verifies the token) or null if it is not a JWT */
export function tokenSubject(token) {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '='));
    const sub = JSON.parse(json).sub;
    return typeof sub === 'string' && sub ? sub : null;
  } catch (e) {
    return null;
  }
}

let configPromise = null;

/** @returns web/config.json (read once per page load; {} when it is missing or unreadable) */
function pageConfig() {
  configPromise ??= fetch('config.json', { cache: 'no-store' }).then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  return configPromise;
}

/**
 * @returns 'relay' when calls must go through TURN only — `?ice=relay` in the page's URL, or "iceTransportPolicy":
 *          "relay" in web/config.json (the URL wins; `?ice=all` overrides the file) — else 'all'
 */
async function iceTransportPolicy() {
  const fromUrl = new URLSearchParams(location.search).get('ice');
  if (fromUrl === 'relay' || fromUrl === 'all') return fromUrl;
  return (await pageConfig()).iceTransportPolicy === 'relay' ? 'relay' : 'all';
}

async function defaultServerUrl() {
  const config = await pageConfig();
  if (config.webSocketUrl) return config.webSocketUrl;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:${config.webSocketPort || 7701}${config.webSocketPath || '/parley'}`;
}

function deviceIdFor(user) {
  const key = `parley.device.${user}`;
  let id = localStorage.getItem(key);
  if (!id) {
    id = `web-${crypto.getRandomValues(new Uint32Array(2)).reduce((s, n) => s + n.toString(36), '')}`;
    localStorage.setItem(key, id);
  }
  return id;
}

let client = null;
let renderQueued = false;
// "conversation/seq" -> the <img> of an image or sticker message: made once (one file.download per image), then
// moved into every render; dropped when the message is recalled and on sign-out
const media = new Map();
let overlayKey = null; // "conversation/seq" of the image the overlay shows
let panelCatalog = null; // the StickerCatalog the sticker panel shows

async function showLogin(message = '') {
  $('chat').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  if (!$('login-url').value) $('login-url').value = localStorage.getItem('parley.url') || await defaultServerUrl();
}

async function signIn(token, url) {
  $('login-error').textContent = '';
  const user = tokenSubject(token);
  if (!user) {
    showLogin('That is not a token: paste the output of bin/parley token <user>.');
    return;
  }
  localStorage.setItem('parley.token', token);
  localStorage.setItem('parley.url', url);
  media.clear();
  client = new ChatClient({ url, token, deviceId: deviceIdFor(user), user,
    iceTransportPolicy: await iceTransportPolicy() });
  client.onChange(() => scheduleRender());
  $('login').hidden = true;
  $('chat').hidden = false;
  $('me').textContent = user;
  client.start();
  scheduleRender();
}

/** Ends the session and shows the sign-in form, with `message` (why) above it. */
function signOut(message = '') {
  cancelRecording();
  client?.stop();
  client = null;
  renderCall();
  media.clear();
  closeOverlay();
  closeStickerPanel();
  localStorage.removeItem('parley.token');
  $('conversation').hidden = true;
  showLogin(message);
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  if (!client) return;
  const status = $('status');
  status.dataset.status = client.status.status;
  status.textContent = client.status.status + (client.status.detail ? ` — ${client.status.detail}` : '');
  if (client.error) {
    // refused token, expired token, kicked: this session is over; the reason goes to the sign-in form
    const reason = client.error.message;
    signOut(client.signedIn ? `Signed out: ${reason}. Sign in with a new token.`
      : `The server refused this token: ${reason}. Paste a valid token.`);
    return;
  }
  $('chat').dataset.view = client.openConversation ? 'conversation' : 'list';
  renderList();
  renderConversation();
  renderCall();
  if (!$('sticker-panel').hidden && panelCatalog !== client.catalog) renderStickerPanel();
}

function renderList() {
  const list = $('conversations');
  list.replaceChildren();
  for (const c of client.state.sorted()) {
    const li = document.createElement('li');
    li.dataset.conversation = c.id;
    li.setAttribute('aria-selected', String(c.id === client.openConversation));
    const title = document.createElement('span');
    title.className = 'title';
    title.textContent = (isGroup(c.id) ? '# ' : '') + c.title;
    const unread = document.createElement('span');
    unread.className = 'unread';
    unread.dataset.count = String(c.unread);
    unread.textContent = String(c.unread);
    const preview = document.createElement('span');
    preview.className = 'preview';
    if (c.last) {
      const view = viewOf(c.last, client.state.me);
      // system lines (group changes, recalls) name their actor already
      preview.textContent = view.system ? view.text
        : `${c.last.sender === client.state.me ? 'You' : c.last.sender}: ${view.text}`;
    }
    li.append(title, unread, preview);
    li.addEventListener('click', () => client.open(c.id));
    list.append(li);
  }
}

function renderConversation() {
  const id = client.openConversation;
  $('conversation').hidden = !id;
  if (!id) return;
  const c = client.state.conversation(id);
  $('conversation-title').textContent = (isGroup(id) ? '# ' : '') + c.title;
  const panel = $('group-panel');
  if (panel.dataset.conversation !== id) {
    panel.dataset.conversation = id;
    panel.open = false;
    $('group-members').replaceChildren();
    $('group-error').textContent = '';
  }
  panel.hidden = !isGroup(id);
  if (panel.open) {
    // membership changed (a group.event arrived) while the panel is open: show the group as it is now
    let lastEvent = 0;
    for (const m of c.messages.values()) if (m.type === 'group.event' && m.seq > lastEvent) lastEvent = m.seq;
    if (String(lastEvent) !== panel.dataset.eventSeq) {
      panel.dataset.eventSeq = String(lastEvent);
      showGroupPanel(id);
    }
  }
  $('load-older').hidden = c.oldestSeq <= 1;
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren();
  const now = Date.now();
  let day = null;
  for (const m of client.state.timeline(id)) {
    const view = viewOf(m, client.state.me);
    if (view.hidden) continue;
    const at = Number(m.serverTime) || now;
    if (dayKey(at) !== day) {
      day = dayKey(at);
      const separator = document.createElement('li');
      separator.className = 'day';
      separator.dataset.day = day;
      separator.textContent = dayLabel(at, now);
      box.append(separator);
    }
    box.append(messageItem(id, m, view));
  }
  if (overlayKey && !media.has(overlayKey)) closeOverlay(); // its message was recalled
  if (atBottom) box.scrollTop = box.scrollHeight;
  const typing = client.state.typingUsers(id, Date.now());
  $('typing').textContent = typing.length ? `${typing.join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…` : '';
}

/** Loads and shows the open group's members; owners and admins get remove buttons (the server decides). */
async function showGroupPanel(conversationId) {
  const error = $('group-error');
  error.textContent = '';
  try {
    const g = await client.getGroup(conversationId);
    if (client.openConversation !== conversationId) return;
    const me = g.members.find((m) => m.user === client.state.me);
    const owner = me?.role === 'GROUP_ROLE_OWNER';
    const manager = me && (owner || me.role === 'GROUP_ROLE_ADMIN');
    const list = $('group-members');
    list.replaceChildren();
    for (const m of g.members) {
      const li = document.createElement('li');
      li.dataset.user = m.user;
      const name = document.createElement('span');
      name.textContent = m.user;
      const role = document.createElement('span');
      role.className = 'role';
      role.textContent = ROLE_NAMES[m.role] || '';
      li.append(name, role);
      if (manager && m.user !== client.state.me && m.role !== 'GROUP_ROLE_OWNER') {
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.textContent = 'Remove';
        remove.addEventListener('click', () => groupAction(conversationId, () => client.removeMember(conversationId, m.user)));
        li.append(remove);
      }
      if (owner && !g.dissolved && m.user !== client.state.me) {
        // the owner may leave only after handing the group on (the server refuses otherwise)
        const transfer = document.createElement('button');
        transfer.type = 'button';
        transfer.className = 'transfer';
        transfer.textContent = 'Make owner';
        transfer.title = `make ${m.user} the owner of this group; you become an admin`;
        transfer.addEventListener('click', () => {
          // two clicks: the first asks, the second hands the group on
          if (transfer.dataset.armed !== 'true') {
            transfer.dataset.armed = 'true';
            transfer.textContent = `Confirm: ${m.user} becomes owner`;
            return;
          }
          groupAction(conversationId, () => client.transferOwnership(conversationId, m.user));
        });
        li.append(transfer);
      }
      list.append(li);
    }
    $('group-add').hidden = !manager || g.dissolved;
    $('group-leave').hidden = !me || g.dissolved;
    $('group-owner-hint').hidden = !owner || g.dissolved;
  } catch (e) {
    error.textContent = e.message;
  }
}

async function groupAction(conversationId, action) {
  try {
    await action();
    await showGroupPanel(conversationId);
  } catch (e) {
    $('group-error').textContent = e.message;
  }
}

function messageItem(conversationId, m, view) {
  const li = document.createElement('li');
  const own = m.sender === client.state.me;
  li.dataset.seq = m.seq ? String(m.seq) : '';
  li.dataset.clientMsgId = m.clientMsgId || '';
  li.dataset.type = m.type;
  if (view.system) li.className = 'system';
  if (view.call) {
    li.classList.add('call');
    li.dataset.callState = view.call.state;
    li.dataset.callId = view.call.callId;
    if (view.call.state === 'ENDED') li.dataset.durationMs = String(view.call.durationMs);
    if (view.call.reason) li.title = view.call.reason;
  }
  else if (own && !view.system) li.className = 'own';
  if (view.big) li.classList.add('big');
  if (view.recalled) li.classList.add('recalled');
  if (!own && !view.system && isGroup(conversationId)) {
    const sender = document.createElement('span');
    sender.className = 'sender';
    sender.textContent = m.sender;
    li.append(sender);
  }
  li.append(...content(conversationId, m, view));
  if (!view.system) {
    const meta = document.createElement('span');
    meta.className = 'meta';
    const at = Number(m.serverTime) || Date.now();
    meta.textContent = messageTime(at, Date.now());
    meta.title = new Date(at).toLocaleString();
    if (own && !view.recalled) {
      const state = client.state.stateOf(conversationId, m);
      li.dataset.state = state;
      const label = document.createElement('span');
      label.className = 'state';
      const readers = isGroup(conversationId) && m.seq ? client.state.readersOf(conversationId, m.seq) : 0;
      label.textContent = ` · ${readers > 0 ? `read by ${readers}` : state}${m.failed ? `: ${m.failed}` : ''}`;
      meta.append(label);
      if (m.seq && !view.recalled && !view.unsupported) {
        // the server decides (its window, the caller's role) and says why not
        const recall = document.createElement('button');
        recall.type = 'button';
        recall.className = 'recall';
        recall.textContent = 'Recall';
        recall.addEventListener('click', () => {
          client.recall(conversationId, m.seq).catch((e) => {
            m.recallError = e.message;
            scheduleRender();
          });
        });
        meta.append(recall);
      }
    }
    if (m.recallError && !view.recalled) {
      const error = document.createElement('span');
      error.className = 'recall-error';
      error.textContent = `Not recalled: ${m.recallError}`;
      meta.append(error);
    }
    li.append(meta);
  }
  return li;
}

function span(className, text) {
  const e = document.createElement('span');
  e.className = className;
  e.textContent = text;
  return e;
}

/** @returns the elements showing a message's content: text, or a file, image or sticker */
function content(conversationId, m, view) {
  const key = `${conversationId}/${m.seq}`;
  if (view.recalled) {
    media.get(key)?.dispose?.();
    media.delete(key);
    return [span('text', view.text)];
  }
  if (m.upload) return uploading(m, view);
  if (view.voice) return voiceContent(conversationId, m, view);
  if (view.video) return videoContent(conversationId, m, view);
  if (view.file) return fileContent(conversationId, m, view.file);
  if (view.image && m.seq) return imageContent(conversationId, m, view.image);
  if (view.sticker) return stickerContent(conversationId, m, view);
  return [span('text', view.text)];
}

/** An own file or image being uploaded: its name, size and how far the upload is. */
function uploading(m, view) {
  const u = m.upload;
  const shown = [span('text', view.text), span('file-size', formatSize(u.size))];
  if (m.failed) return shown; // the reason is shown with the message's state
  const done = percent(u.loaded, u.size);
  const bar = document.createElement('progress');
  bar.className = 'upload';
  bar.max = 100;
  bar.value = done;
  shown.push(bar, span('upload-progress', `${done}%`));
  return shown;
}

/** A file: name, size, and a Download link that asks file.download only when clicked. */
function fileContent(conversationId, m, file) {
  const shown = [span('text', `📎 ${file.name}`), span('file-size', formatSize(file.size))];
  if (!m.seq) return shown;
  const link = document.createElement('a');
  link.className = 'download';
  link.href = '#';
  link.textContent = 'Download';
  link.addEventListener('click', (e) => {
    e.preventDefault();
    const seq = m.seq;
    client.download(conversationId, seq).then((ticket) => {
      m.downloadError = null;
      saveFrom(ticket.url, file.name);
    }, (err) => {
      m.downloadError = describeError(err);
    }).finally(scheduleRender);
  });
  shown.push(link);
  if (m.downloadError) shown.push(span('download-error', `Download failed: ${m.downloadError}`));
  return shown;
}

/**
 * Saves what url serves under name: a link clicked at once and removed. Same origin (the blob endpoints behind the
 * page's own server): the browser saves it as name; another origin (an S3 pre-signed URL): opened in a new tab,
 * where the object store's headers decide.
 */
function saveFrom(url, name) {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

/** @returns [width, height] scaled to fit side × side, or [0, 0] when unknown */
function fit(width, height, side) {
  if (!width || !height) return [0, 0];
  const scale = Math.min(1, side / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/** An image: its thumbnail (file.download asked when first shown), the space reserved from the body's sizes. */
function imageContent(conversationId, m, image) {
  const key = `${conversationId}/${m.seq}`;
  let img = media.get(key);
  if (!img) {
    img = document.createElement('img');
    img.className = 'thumb';
    img.alt = image.name;
    img.dataset.state = 'loading';
    const [w, h] = image.thumbnailWidth ? [image.thumbnailWidth, image.thumbnailHeight]
      : fit(image.width, image.height, 320);
    if (w) {
      img.width = w;
      img.height = h;
    }
    img.addEventListener('load', () => { img.dataset.state = 'loaded'; });
    img.addEventListener('error', () => { if (img.getAttribute('src')) img.dataset.state = 'error'; });
    media.set(key, img);
    client.download(conversationId, m.seq).then((ticket) => {
      if (media.get(key) === img) img.src = ticket.thumbnailUrl || ticket.url;
    }, (err) => {
      img.dataset.state = 'error';
      img.title = describeError(err);
    });
  }
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'image-open';
  open.title = `Open ${image.name}`;
  open.append(img);
  open.addEventListener('click', () => openImage(conversationId, m.seq, image));
  const size = image.width ? `${image.width}×${image.height}, ${formatSize(image.size)}` : formatSize(image.size);
  return [open, span('text', image.name), span('file-size', size)];
}

/** Shows the full image in the overlay (file.download's url; the ticket leaves the DOM when it closes). */
function openImage(conversationId, seq, image) {
  const key = `${conversationId}/${seq}`;
  overlayKey = key;
  const img = $('overlay-image');
  img.removeAttribute('src');
  img.alt = image.name;
  if (image.width) {
    img.width = image.width;
    img.height = image.height;
  } else {
    img.removeAttribute('width');
    img.removeAttribute('height');
  }
  $('overlay-caption').textContent = image.width
    ? `${image.name} — ${image.width}×${image.height}, ${formatSize(image.size)}` : image.name;
  $('overlay-error').textContent = '';
  $('overlay').hidden = false;
  $('overlay-close').focus();
  client.download(conversationId, seq).then((ticket) => {
    if (overlayKey === key) img.src = ticket.url;
  }, (err) => {
    if (overlayKey === key) $('overlay-error').textContent = `Could not open the image: ${describeError(err)}`;
  });
}

function closeOverlay() {
  overlayKey = null;
  $('overlay').hidden = true;
  $('overlay-image').removeAttribute('src');
}

/** A sticker: its image from the catalog (sticker.list), or "[sticker: name]" when the catalog does not have it. */
function stickerContent(conversationId, m, view) {
  const s = view.sticker;
  const key = `${conversationId}/${m.seq || m.clientMsgId}`;
  let img = media.get(key);
  if (!img) {
    const info = client.catalog.lookup(s.pack, s.sticker, s.imageKey);
    if (!info) {
      if (client.catalog.stale(Date.now())) client.stickers().catch(() => {});
      return [span('text', view.text)];
    }
    img = stickerImage(info, STICKER_SIDE, s.name);
    if (m.seq) media.set(key, img);
  }
  return [img];
}

function stickerImage(info, side, name = info.name) {
  const img = document.createElement('img');
  img.className = 'sticker';
  img.alt = `[sticker: ${name || info.id}]`;
  img.title = name || info.id;
  const [w, h] = fit(info.width, info.height, side);
  if (w) {
    img.width = w;
    img.height = h;
  }
  img.src = info.url;
  return img;
}

/**
 * A voice message: play button, waveform, duration; its <audio> gets the clip's URL (file.download) on the first
 * play. Made once per message and moved into every render, so that playing goes on across renders.
 */
function voiceContent(conversationId, m, view) {
  const key = `${conversationId}/${m.seq}`;
  let root = m.seq ? media.get(key) : null;
  if (!root) {
    root = voicePlayer(conversationId, m, view.voice);
    if (m.seq) media.set(key, root);
  }
  return [root];
}

function voicePlayer(conversationId, m, voice) {
  const root = document.createElement('span');
  root.className = 'voice';
  root.dataset.state = 'idle';
  const play = document.createElement('button');
  play.type = 'button';
  play.className = 'voice-play';
  play.textContent = '▶';
  play.title = 'Play';
  play.disabled = !m.seq;
  const canvas = document.createElement('canvas');
  canvas.className = 'waveform';
  canvas.width = 200;
  canvas.height = 32;
  const duration = span('voice-duration', formatDuration(voice.durationMs));
  duration.dataset.durationMs = String(voice.durationMs);
  const audio = document.createElement('audio');
  audio.preload = 'none';
  audio.hidden = true;
  const draw = () => drawWaveform(canvas, voice.waveform, voice.durationMs > 0 && audio.currentTime
    ? Math.min(1, (audio.currentTime * 1000) / voice.durationMs) : 0);
  const setState = (state) => {
    root.dataset.state = state;
    play.textContent = state === 'playing' ? '⏸' : '▶';
    play.title = state === 'playing' ? 'Pause' : 'Play';
    draw();
  };
  audio.addEventListener('playing', () => setState('playing'));
  audio.addEventListener('pause', () => { if (!audio.ended) setState('paused'); });
  audio.addEventListener('ended', () => setState('ended'));
  audio.addEventListener('timeupdate', () => {
    draw();
    if (!audio.paused) duration.textContent = formatDuration(audio.currentTime * 1000);
  });
  audio.addEventListener('ended', () => { duration.textContent = formatDuration(voice.durationMs); });
  audio.addEventListener('error', () => {
    if (!audio.getAttribute('src')) return;
    root.dataset.state = 'error';
    play.title = 'Could not play this voice message';
  });
  play.addEventListener('click', () => {
    if (!audio.paused) {
      audio.pause();
      return;
    }
    if (audio.getAttribute('src')) {
      audio.play().catch((e) => { root.dataset.state = 'error'; play.title = e.message; });
      return;
    }
    root.dataset.state = 'loading';
    client.download(conversationId, m.seq).then((ticket) => {
      audio.src = ticket.url;
      return audio.play();
    }).catch((e) => {
      root.dataset.state = 'error';
      play.title = `Could not play: ${describeError(e)}`;
    });
  });
  root.dispose = () => {
    audio.pause();
    audio.removeAttribute('src');
  };
  root.append(play, canvas, duration, audio);
  draw();
  return root;
}

/** Bars of the waveform (scaled to its loudest sample); the part played so far in the accent colour. */
function drawWaveform(canvas, waveform, played) {
  const g = canvas.getContext('2d');
  if (!g) return;
  const bars = barsOf(waveform);
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (!bars.length) return;
  const step = canvas.width / bars.length;
  const barWidth = Math.max(1, step * 0.6);
  bars.forEach((v, i) => {
    const h = Math.max(2, v * canvas.height);
    g.fillStyle = (i + 0.5) / bars.length <= played ? '#2f6fde' : '#9aa5b1';
    g.fillRect(i * step, (canvas.height - h) / 2, barWidth, h);
  });
}

/**
 * A video message: its poster (file.download's thumbnail_url) with the duration; a click replaces it with a <video>
 * playing the clip (url). Made once per message, moved into every render.
 */
function videoContent(conversationId, m, view) {
  const key = `${conversationId}/${m.seq}`;
  let root = m.seq ? media.get(key) : null;
  if (!root) {
    root = videoPlayer(conversationId, m, view.video);
    if (m.seq) media.set(key, root);
  }
  return [root];
}

function videoPlayer(conversationId, m, video) {
  const root = document.createElement('div');
  root.className = 'video-message';
  root.dataset.state = 'idle';
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'video-open';
  open.title = 'Play';
  open.disabled = !m.seq;
  const [w, h] = fitWithin(video.posterWidth || video.width, video.posterHeight || video.height, 320);
  const poster = document.createElement('img');
  poster.className = 'poster';
  poster.alt = 'video';
  if (w) {
    poster.width = w;
    poster.height = h;
  }
  const duration = span('video-duration', `▶ ${formatDuration(video.durationMs)}`);
  duration.dataset.durationMs = String(video.durationMs);
  open.append(poster, duration);
  const info = span('file-size', `${video.width ? `${video.width}×${video.height}, ` : ''}${formatSize(video.size)}`);
  let player = null;
  if (m.seq && video.poster) {
    client.download(conversationId, m.seq).then((ticket) => {
      if (ticket.thumbnailUrl) poster.src = ticket.thumbnailUrl;
    }, (e) => { poster.title = describeError(e); });
  }
  open.addEventListener('click', () => {
    root.dataset.state = 'loading';
    client.download(conversationId, m.seq).then((ticket) => {
      player = document.createElement('video');
      player.className = 'video-player';
      player.controls = true;
      player.playsInline = true;
      if (w) player.width = fitWithin(video.width || w, video.height || h, 320)[0];
      player.addEventListener('playing', () => { root.dataset.state = 'playing'; });
      player.addEventListener('ended', () => { root.dataset.state = 'ended'; });
      player.addEventListener('error', () => { root.dataset.state = 'error'; });
      player.src = ticket.url;
      open.replaceWith(player);
      return player.play();
    }).catch((e) => {
      root.dataset.state = 'error';
      open.title = `Could not play: ${describeError(e)}`;
    });
  });
  root.dispose = () => {
    player?.pause();
    player?.removeAttribute('src');
  };
  root.append(open, info);
  return root;
}

// ------------------------------------------------------------------------------------------------ recording

let recording = null; // {kind, conversation, rec: Recording | null (starting), timer}

/** Starts recording a voice ('voice') or video ('video') message for the open conversation. */
async function startRecording(kind) {
  if (recording || !client?.openConversation) return;
  const conversation = client.openConversation;
  $('recorder-error').textContent = '';
  const preview = $('recorder-preview');
  preview.hidden = kind !== 'video';
  $('recorder-label').textContent = kind === 'video' ? '● Recording video' : '● Recording';
  $('recorder-time').textContent = '0:00';
  $('recorder-send').disabled = true;
  $('recorder').hidden = false;
  $('recorder').dataset.kind = kind;
  const r = { kind, conversation, rec: null, timer: null };
  recording = r;
  try {
    const rec = await Recording.start(kind, { preview: kind === 'video' ? preview : null,
      onLimit: () => finishRecording() });
    if (recording !== r) {
      rec.cancel();
      return;
    }
    r.rec = rec;
    $('recorder-send').disabled = false;
    $('recorder').dataset.state = 'recording';
    r.timer = setInterval(() => { $('recorder-time').textContent = formatDuration(rec.elapsed()); }, 250);
  } catch (e) {
    if (recording === r) closeRecorder();
    $('recorder-error').textContent = `Cannot record: ${e.message || e}`;
  }
}

function closeRecorder() {
  if (recording) clearInterval(recording.timer);
  recording = null;
  $('recorder').hidden = true;
  $('recorder').dataset.state = '';
  $('recorder-preview').hidden = true;
}

function cancelRecording() {
  const r = recording;
  closeRecorder();
  r?.rec?.cancel();
}

/** Stops the recording (the poster is taken from the preview while it still shows) and sends it. */
async function finishRecording() {
  const r = recording;
  if (!r?.rec || r.stopping) return;
  r.stopping = true;
  $('recorder-send').disabled = true;
  clearInterval(r.timer);
  try {
    const result = await r.rec.stop();
    const peer = peerOf(r.conversation, client.state.me);
    const to = peer !== null ? { peer } : { conversation: r.conversation };
    if (r.kind === 'voice') client.sendVoice({ ...to, recording: result });
    else client.sendVideo({ ...to, recording: result });
  } catch (e) {
    $('recorder-error').textContent = `Not sent: ${e.message || e}`;
  } finally {
    if (recording === r) closeRecorder();
  }
}

// ------------------------------------------------------------------------------------------------ calls

const remoteVideos = new Map(); // user -> <video> of the current call
let callTimer = null;
let ringTone = null;
let noticeTimer = null;
let shownNotice = 0; // CallManager.noticeId of the notice shown last

function startCall(media) {
  const id = client?.openConversation;
  if (!id) return;
  const peer = peerOf(id, client.state.me);
  client.call(peer !== null ? { peer, media } : { conversation: id, media }).catch((e) => {
    showCallNotice(`Could not call: ${describeError(e)}`);
  });
}

function showCallNotice(text) {
  const notice = $('call-notice');
  notice.textContent = text;
  notice.hidden = !text;
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
}

const PHASE_TEXT = { starting: 'Starting…', ringing: 'Calling', joining: 'Joining…', connecting: 'Connecting…' };

/** The incoming-call panel, the call panel with its videos, the notice after a call; kept in place across renders. */
function renderCall() {
  const calls = client?.calls;
  const ringing = calls ? calls.ringing() : [];
  const incoming = $('call-incoming');
  incoming.hidden = ringing.length === 0;
  if (ringing.length) {
    const ring = ringing[0];
    incoming.dataset.callId = ring.callId;
    $('call-incoming-text').textContent = `📞 ${ring.initiator} is calling${ring.media === 'VIDEO' ? ' (video)' : ''}`
      + (isGroup(ring.conversation) ? ` in ${client.state.conversation(ring.conversation).title}` : '');
  }
  ringing.length ? startRingTone() : stopRingTone();

  const call = calls?.current ?? null;
  const panel = $('call');
  panel.hidden = !call;
  if (calls && calls.noticeId !== shownNotice && !call) {
    shownNotice = calls.noticeId;
    showCallNotice(calls.notice);
  }
  if (!call) {
    for (const v of remoteVideos.values()) v.srcObject = null;
    remoteVideos.clear();
    $('call-remote').replaceChildren();
    $('call-local').srcObject = null;
    clearInterval(callTimer);
    callTimer = null;
    return;
  }
  if (!callTimer) callTimer = setInterval(scheduleRender, 1000);
  panel.dataset.callId = call.callId;
  panel.dataset.phase = call.phase;
  panel.dataset.media = call.media;
  const routes = [...call.peers.values()].map((p) => p.route).filter(Boolean);
  panel.dataset.route = routes.join(' ');
  const others = call.role === 'caller' && isGroup(call.conversation) ? client.state.conversation(call.conversation).title
    : (peerOf(call.conversation, client.state.me) ?? call.initiator);
  let status;
  if (call.phase === 'connected') {
    status = `${others} · ${formatDuration(Date.now() - call.connectedAt)}`
      + (routes.includes('relay') ? ' · via relay' : '');
  } else if (call.phase === 'ringing') {
    status = `Calling ${others}…`;
  } else {
    status = PHASE_TEXT[call.phase] ?? call.phase;
  }
  $('call-status').textContent = status;
  const local = $('call-local');
  if (local.srcObject !== call.localStream) local.srcObject = call.localStream;
  $('call-mute').textContent = call.muted.audio ? 'Unmute' : 'Mute';
  $('call-mute').setAttribute('aria-pressed', String(call.muted.audio));
  $('call-camera').textContent = call.muted.video ? 'Camera on' : 'Camera off';
  $('call-camera').setAttribute('aria-pressed', String(call.muted.video));
  const box = $('call-remote');
  for (const [user, video] of remoteVideos) {
    if (!call.peers.has(user)) {
      video.srcObject = null;
      video.remove();
      remoteVideos.delete(user);
    }
  }
  for (const peer of call.peers.values()) {
    let video = remoteVideos.get(peer.user);
    if (!video) {
      video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.dataset.user = peer.user;
      video.title = peer.user;
      remoteVideos.set(peer.user, video);
      box.append(video);
    }
    video.dataset.state = peer.state;
    if (peer.stream && video.srcObject !== peer.stream) {
      video.srcObject = peer.stream;
      video.play().catch(() => {});
    }
  }
}

/** Two short tones every two seconds while a call rings here (silent when the browser allows no sound yet). */
function startRingTone() {
  if (ringTone) return;
  const beep = () => {
    try {
      ringTone.audio ??= new AudioContext();
      const a = ringTone.audio;
      for (const at of [0, 0.25]) {
        const o = a.createOscillator();
        const g = a.createGain();
        o.frequency.value = 440;
        g.gain.value = 0.1;
        o.connect(g).connect(a.destination);
        o.start(a.currentTime + at);
        o.stop(a.currentTime + at + 0.18);
      }
    } catch (e) { /* no sound: the panel still shows */ }
    scheduleRender(); // drops calls that stopped ringing without an event
  };
  ringTone = { audio: null, timer: setInterval(beep, 2000) };
  beep();
}

function stopRingTone() {
  if (!ringTone) return;
  clearInterval(ringTone.timer);
  ringTone.audio?.close().catch(() => {});
  ringTone = null;
}

function closeStickerPanel() {
  $('sticker-panel').hidden = true;
  $('stickers').setAttribute('aria-expanded', 'false');
}

/** Opens the sticker panel, asking sticker.list again if its URLs are about to expire. */
function openStickerPanel() {
  $('sticker-panel').hidden = false;
  $('stickers').setAttribute('aria-expanded', 'true');
  panelCatalog = null;
  $('sticker-error').textContent = '';
  client.stickers().then(renderStickerPanel, (e) => {
    $('sticker-error').textContent = `No stickers: ${describeError(e)}`;
  });
}

function renderStickerPanel() {
  const catalog = client.catalog;
  panelCatalog = catalog;
  const packs = $('sticker-packs');
  packs.replaceChildren();
  $('sticker-error').textContent = catalog.error ? `No stickers: ${catalog.error}`
    : catalog.expiresAt === 0 ? 'The sticker list has not arrived yet.'
      : catalog.packs.length === 0 ? 'This server offers no stickers.' : '';
  for (const p of catalog.packs) {
    const section = document.createElement('section');
    section.className = 'pack';
    section.dataset.pack = p.id;
    const title = document.createElement('h3');
    title.textContent = p.name || p.id;
    section.append(title);
    for (const info of p.stickers || []) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sticker';
      b.dataset.pack = p.id;
      b.dataset.sticker = info.id;
      b.append(stickerImage(info, STICKER_SIDE / 2));
      b.addEventListener('click', () => {
        if (!client?.openConversation) return;
        sendTo(client.openConversation, 'sticker', { pack: p.id, sticker: info.id });
        closeStickerPanel();
      });
      section.append(b);
    }
    packs.append(section);
  }
}

/** 1:1 conversations are addressed by peer, so the first message creates the conversation. */
function sendTo(conversation, type, content) {
  const peer = peerOf(conversation, client.state.me);
  client.send(peer !== null ? { peer, type, content } : { conversation, type, content });
}

function sendFileTo(conversation, file) {
  const peer = peerOf(conversation, client.state.me);
  client.sendFile(peer !== null ? { peer, file } : { conversation, file });
}

function wire() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn($('login-token').value.trim(), $('login-url').value.trim());
  });
  $('logout').addEventListener('click', signOut);
  $('reconnect').addEventListener('click', () => client?.reconnect());
  $('new-chat').addEventListener('submit', (e) => {
    e.preventDefault();
    const peer = $('new-chat-peer').value.trim();
    const conv = client.state.conversation(directConversation(client.state.me, peer));
    $('new-chat-peer').value = '';
    client.open(conv.id);
  });
  $('new-group').addEventListener('submit', async (e) => {
    e.preventDefault();
    const members = $('new-group-members').value.split(/[\s,]+/).filter(Boolean);
    try {
      const conv = await client.createGroup($('new-group-name').value.trim(), members);
      $('new-group-name').value = '';
      $('new-group-members').value = '';
      client.open(conv);
    } catch (err) {
      alert(`Could not create the group: ${err.message}`);
    }
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('composer-text');
    const text = input.value;
    if (!text.trim() || !client.openConversation) return;
    sendTo(client.openConversation, 'text', text);
    client.typing(client.openConversation, false);
    input.value = '';
  });
  $('composer-text').addEventListener('input', () => {
    if (client?.openConversation && $('composer-text').value) client.typing(client.openConversation, true);
  });
  for (const emoji of EMOJI) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = emoji;
    b.dataset.emoji = emoji;
    b.addEventListener('click', () => client?.openConversation && sendTo(client.openConversation, 'emoji', emoji));
    $('emoji').append(b);
  }
  $('record-voice').addEventListener('click', () => startRecording('voice'));
  $('record-video').addEventListener('click', () => startRecording('video'));
  $('recorder-send').addEventListener('click', () => finishRecording());
  $('recorder-cancel').addEventListener('click', cancelRecording);
  $('call-audio').addEventListener('click', () => startCall('AUDIO'));
  $('call-video').addEventListener('click', () => startCall('VIDEO'));
  $('call-accept').addEventListener('click', () => {
    const id = $('call-incoming').dataset.callId;
    client?.calls.accept(id).catch((e) => showCallNotice(`Could not answer: ${describeError(e)}`));
  });
  $('call-reject').addEventListener('click', () => {
    const id = $('call-incoming').dataset.callId;
    client?.calls.reject(id).catch((e) => showCallNotice(`Could not decline: ${describeError(e)}`));
  });
  $('call-hangup').addEventListener('click', () => {
    client?.calls.hangup().catch((e) => console.warn('parley: hangup failed', e));
  });
  $('call-mute').addEventListener('click', () => {
    const call = client?.calls.current;
    if (call) client.calls.setMuted('audio', !call.muted.audio);
  });
  $('call-camera').addEventListener('click', () => {
    const call = client?.calls.current;
    if (call) client.calls.setMuted('video', !call.muted.video);
  });
  $('attach').addEventListener('click', () => $('attach-input').click());
  $('attach-input').addEventListener('change', () => {
    const input = $('attach-input');
    if (client?.openConversation) for (const file of input.files) sendFileTo(client.openConversation, file);
    input.value = '';
  });
  $('stickers').addEventListener('click', () => {
    if ($('sticker-panel').hidden) openStickerPanel();
    else closeStickerPanel();
  });
  $('overlay-close').addEventListener('click', closeOverlay);
  $('overlay').addEventListener('click', (e) => { if (e.target === $('overlay')) closeOverlay(); });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('overlay').hidden) closeOverlay(); });
  $('back').addEventListener('click', () => client?.close());
  $('load-older').addEventListener('click', () => client?.loadOlder(client.openConversation));
  $('group-panel').addEventListener('toggle', () => {
    if ($('group-panel').open && client?.openConversation) showGroupPanel(client.openConversation);
  });
  $('group-add').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = client.openConversation;
    const users = $('group-add-users').value.split(/[\s,]+/).filter(Boolean);
    $('group-add-users').value = '';
    groupAction(id, () => client.addMembers(id, users));
  });
  $('group-leave').addEventListener('click', () => {
    const id = client.openConversation;
    groupAction(id, () => client.leaveGroup(id));
  });
  window.addEventListener('pagehide', () => client?.saveReceipts());
  document.addEventListener('visibilitychange', () => client?.setVisible(document.visibilityState === 'visible'));
}

wire();
const saved = localStorage.getItem('parley.token');
if (saved) {
  signIn(saved, localStorage.getItem('parley.url') || await defaultServerUrl());
} else {
  showLogin();
}
