/**
 * The host page (/s/{id}/host#key=...): the programme's host (主持人) in the studio.
 *
 * Three jobs, each a few taps: say something to everyone (a remark: the opening, the guest's
 * introduction, the close), read out the next question from the published queue (announce), and
 * post photos from the studio with a caption. What was posted is listed newest first, each with
 * 撤回 to take it back. A moderator's key works here too (live/auth.py): a small team's moderator
 * is its host. Every post is an event the server decides (live/studio.py); this page shows the
 * queue and the posts as the feed says they are, and sends requests.
 */
import { Confirm } from './confirm.js';
import { errorText, t, time } from './i18n.js';
import { Live } from './live.js';
import { Session } from './model.js';
import { $, announce, channelTag, fragmentKey, h, keyed, sessionId, staffChrome, toast } from './ui.js';

const sid = sessionId();
const key = fragmentKey();
const model = new Session();
let ready = false;

const live = new Live(sid, { token: key, handlers: {
  snapshot(f) {
    model.load(f);
    ready = true;
    render();
  },
  event(e) {
    model.apply(e);
    if (ready) render();
  },
  error: (f) => toast(errorText(f), 'error'),
} });

function tz() {
  return model.info.timezone || 'Asia/Shanghai';
}

function render() {
  if (!ready) return;
  const i = model.info;
  $('#title').textContent = i.title || '';
  document.title = `${t('host.doc_title')} - ${i.title || ''}`;
  renderQueue();
  renderPosts();
}

/** The last question each was read out at, so the host sees what was announced already. */
function announcedAt() {
  const at = new Map();
  for (const p of model.posts.values()) if (p.kind === 'announce') at.set(p.question_id, p.at);
  return at;
}

function renderQueue() {
  const now = model.answering == null ? null : model.questions.get(model.answering);
  $('#now').hidden = !now;
  if (now) $('#now').replaceChildren(h('b', {}, t('host.now')), ' ', now.text || '');
  const items = model.list('approved', 'votes').filter((q) => q.id !== model.answering);
  const read = announcedAt();
  $('#queue-count').textContent = String(items.length);
  $('#queue-empty').hidden = items.length > 0;
  keyed($('#queue'), items, (q) => {
    const li = h('li', { class: 'pq' });
    li.go = h('button', { type: 'button', class: 'btn small primary', on: { click: () => announceQuestion(q.id) } });
    return li;
  }, (li, q) => {
    li.go.textContent = t('host.announce');
    li.go.setAttribute('aria-label', `${t('host.announce')}: ${q.text}`);
    li.replaceChildren(
      h('span', { class: 'votes-n', attrs: { 'aria-label': t('presenter.votes', { n: q.votes || 0 }) } }, String(q.votes || 0)),
      h('div', { class: 'pq-main' }, h('p', { class: 'pq-text' }, q.text),
        h('p', { class: 'meta' }, `${q.name} · ${time(q.asked_at, tz())}`, channelTag(q),
          read.has(q.id) ? h('span', { class: 'chip announced' }, t('host.announced_at', { time: time(read.get(q.id), tz()) })) : null)),
      li.go);
  });
}

/** What one post says, in a line: the remark, the question read out, the photo's caption. */
function said(p) {
  if (p.kind === 'remark') return p.text;
  if (p.kind === 'announce') return `${t('host.kind_announce')}${model.questions.get(p.question_id)?.text || `#${p.question_id}`}`;
  return p.caption || '';
}

function renderPosts() {
  const items = [...model.posts.values()].reverse();
  $('#posts-empty').hidden = items.length > 0;
  keyed($('#posts'), items, (p) => {
    const li = h('li', { class: 'pq post-row', dataset: { kind: p.kind } });
    li.main = h('div', { class: 'pq-main' });
    li.withdraw = h('button', { type: 'button', class: 'btn small', dataset: { i18n: 'host.withdraw' } }, t('host.withdraw'));
    li.confirm = new Confirm(li.withdraw, { ask: 'host.withdraw_ask', yes: 'host.withdraw_yes', run: () => withdraw(p.id) });
    li.append(li.main, li.withdraw, li.confirm.box);
    return li;
  }, (li, p) => {
    li.main.replaceChildren(...[ // replaceChildren writes null as text: none of it
      h('p', { class: 'meta' }, h('span', { class: 'chip' }, t(`host.kind_${p.kind}_label`)), ` ${time(p.at, tz())}`),
      p.kind === 'photo' ? h('img', { class: 'thumb', src: `/s/${sid}/${p.url}`, width: p.width, height: p.height, alt: p.caption || t('host.kind_photo_label') }) : null,
      h('p', { class: 'pq-text' }, said(p))].filter(Boolean));
  });
}

async function send(type, fields, done) {
  try {
    await live.request(type, fields);
    toast(done);
    announce(done);
    return true;
  } catch (err) {
    toast(errorText(err), 'error');
    return false;
  }
}

function announceQuestion(id) {
  const q = model.questions.get(id);
  send('announce', { question_id: id }, t('host.announced', { q: q?.text || '' }));
}

function withdraw(id) {
  send('withdraw_post', { post_id: id }, t('host.withdrawn'));
}

function count() {
  const n = Array.from($('#remark-text').value).length;
  $('#remark-count').textContent = `${n}/2000`;
  $('#remark-count').classList.toggle('over', n > 2000);
}

async function remark(e) {
  e.preventDefault();
  const text = $('#remark-text').value.trim();
  $('#remark-error').textContent = text ? '' : t('host.remark_empty');
  if (!text) return;
  $('#remark-send').disabled = true;
  try {
    await live.request('remark', { text });
    $('#remark-text').value = '';
    count();
    toast(t('host.remark_sent'));
  } catch (err) {
    $('#remark-error').textContent = errorText(err);
  } finally {
    $('#remark-send').disabled = false;
  }
}

/** A photo goes over HTTP (multipart, the staff key in the header); the server checks and cleans it. */
async function upload(e) {
  e.preventDefault();
  const file = $('#photo-file').files[0];
  $('#photo-error').textContent = file ? '' : t('host.photo_none');
  if (!file) return;
  const body = new FormData();
  body.append('photo', file);
  body.append('caption', $('#photo-caption').value.trim());
  const button = $('#photo-send');
  button.disabled = true;
  button.textContent = t('host.uploading');
  try {
    const r = await fetch(`/api/sessions/${sid}/photos`, { method: 'POST', body, headers: { Authorization: `Bearer ${key}` } });
    const reply = await r.json().catch(() => ({ code: 'internal' }));
    if (!r.ok) throw reply;
    $('#photo-form').reset();
    toast(t('host.photo_sent'));
    announce(t('host.photo_sent'));
  } catch (err) {
    $('#photo-error').textContent = errorText(err);
  } finally {
    button.disabled = false;
    button.textContent = t('host.photo_send');
  }
}

function setup() {
  staffChrome(live, render);
  $('#viewer-link').href = `/s/${sid}`;
  $('#remark-form').addEventListener('submit', remark);
  $('#remark-text').addEventListener('input', count);
  $('#photo-form').addEventListener('submit', upload);
  count();
  live.start();
}

setup();
