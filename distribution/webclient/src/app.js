// The page: sign-in, conversation list, conversation view. All user-supplied text is set with textContent.
import { ChatClient } from './client.js';
import { directConversation, isGroup, peerOf } from './state.js';

const ROLE_NAMES = { GROUP_ROLE_OWNER: 'owner', GROUP_ROLE_ADMIN: 'admin', GROUP_ROLE_MEMBER: 'member' };
import { viewOf } from './wire.js';

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

async function defaultServerUrl() {
  let config = {};
  try {
    const r = await fetch('config.json', { cache: 'no-store' });
    if (r.ok) config = await r.json();
  } catch (e) { /* defaults below */ }
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

async function showLogin(message = '') {
  $('chat').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  if (!$('login-url').value) $('login-url').value = localStorage.getItem('parley.url') || await defaultServerUrl();
}

function signIn(token, url) {
  const user = tokenSubject(token);
  if (!user) {
    showLogin('That is not a token: paste the output of bin/parley token <user>.');
    return;
  }
  localStorage.setItem('parley.token', token);
  localStorage.setItem('parley.url', url);
  client = new ChatClient({ url, token, deviceId: deviceIdFor(user), user });
  client.onChange(() => scheduleRender());
  $('login').hidden = true;
  $('chat').hidden = false;
  $('me').textContent = user;
  client.start();
  scheduleRender();
}

function signOut() {
  client?.stop();
  client = null;
  localStorage.removeItem('parley.token');
  $('conversation').hidden = true;
  showLogin();
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
  const fatal = $('fatal');
  fatal.hidden = !client.error;
  fatal.textContent = client.error ? `Signed out: ${client.error.message}. Sign in with a new token.` : '';
  renderList();
  renderConversation();
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
      const view = viewOf(c.last);
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
  for (const m of client.state.timeline(id)) box.append(messageItem(id, m));
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
    const manager = me && (me.role === 'GROUP_ROLE_OWNER' || me.role === 'GROUP_ROLE_ADMIN');
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
      list.append(li);
    }
    $('group-add').hidden = !manager || g.dissolved;
    $('group-leave').hidden = !me || g.dissolved;
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

function messageItem(conversationId, m) {
  const li = document.createElement('li');
  const view = viewOf(m);
  const own = m.sender === client.state.me;
  li.dataset.seq = m.seq ? String(m.seq) : '';
  li.dataset.clientMsgId = m.clientMsgId || '';
  li.dataset.type = m.type;
  if (view.system) li.className = 'system';
  else if (own) li.className = 'own';
  if (view.big) li.classList.add('big');
  if (view.recalled) li.classList.add('recalled');
  if (!own && !view.system && isGroup(conversationId)) {
    const sender = document.createElement('span');
    sender.className = 'sender';
    sender.textContent = m.sender;
    li.append(sender);
  }
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = view.text;
  li.append(text);
  if (!view.system) {
    const meta = document.createElement('span');
    meta.className = 'meta';
    const time = new Date(Number(m.serverTime) || Date.now()).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    meta.textContent = time;
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

/** 1:1 conversations are addressed by peer, so the first message creates the conversation. */
function sendTo(conversation, type, content) {
  const peer = peerOf(conversation, client.state.me);
  client.send(peer !== null ? { peer, type, content } : { conversation, type, content });
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
  document.addEventListener('visibilitychange', () => client?.setVisible(document.visibilityState === 'visible'));
}

wire();
const saved = localStorage.getItem('parley.token');
if (saved) {
  signIn(saved, localStorage.getItem('parley.url') || await defaultServerUrl());
} else {
  showLogin();
}
