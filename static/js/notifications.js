/**
 * The staff page of messages sent to askers (/s/{id}/notifications#key=…).
 *
 * Lists what the server told each asker who left a contact (GET /api/sessions/{id}/notifications,
 * with the staff key in an Authorization header, never in a URL): which question, which outcome,
 * by e-mail or SMS, to whom (masked by the server: the page never has a whole contact), and how
 * the delivery stands (sent, waiting or retrying, failed and why, replaced by a later outcome).
 * Times are in the session's timezone. Everything is set with textContent.
 */
import { dateTime, errorText, has, t, tzLabel } from './i18n.js';
import { $, chrome, episodeTitle, fragmentKey, h, keyed, sessionId } from './ui.js';

const sid = sessionId();
const key = fragmentKey();
const REFRESH_MS = 10000;
let session = null;
let data = null;
let loadedAt = 0;

function fatal(text) {
  $('#fatal').hidden = false;
  $('#fatal').textContent = text;
}

function tz() {
  return session?.timezone || 'Asia/Shanghai';
}

function when(ms) {
  return t('time.window', { range: dateTime(ms, tz()), tz: tzLabel(tz()) });
}

function kind(type) {
  const k = `notifications.t_${(type || '').split('.').pop()}`;
  return has(k) ? t(k) : t('notifications.t_other');
}

function details(n) {
  const parts = [];
  if (n.status === 'sent' && n.sent_at) parts.push(t('notifications.sent_at', { time: when(n.sent_at) }));
  else if (n.status === 'pending' && n.attempts === 0) parts.push(t('notifications.due', { time: when(n.due_at) }));
  else if (n.status === 'pending') parts.push(t('notifications.retry', { time: when(n.due_at) }));
  if (n.attempts) parts.push(t('notifications.attempts', { n: n.attempts }));
  if (n.error) parts.push(t('notifications.error', { error: n.error }));
  return parts.join(t('notifications.sep'));
}

function create() {
  return h('li', { class: 'nq' },
    h('p', { class: 'nq-main' }),
    h('span', { class: 'badge' }),
    h('p', { class: 'meta' }));
}

function update(el, n) {
  el.dataset.status = n.status;
  el.querySelector('.nq-main').textContent = t('notifications.item', {
    id: n.question_id, kind: kind(n.type), channel: t(`notifications.ch_${n.channel}`), to: n.to || '—',
  });
  const badge = el.querySelector('.badge');
  badge.dataset.status = n.status;
  badge.textContent = t(`notifications.s_${n.status}`);
  el.querySelector('.meta').textContent = details(n);
}

function render() {
  if (session) {
    $('#title').textContent = episodeTitle(session);
    document.title = `${t('notifications.doc_title')} · ${session.title || ''}`;
  }
  if (!data) return;
  const list = data.notifications;
  const count = (status) => list.filter((n) => n.status === status).length;
  $('#c-sent').textContent = String(count('sent'));
  $('#c-pending').textContent = String(count('pending'));
  $('#c-failed').textContent = String(count('failed'));
  $('#stat-failed').classList.toggle('warn', count('failed') > 0);
  $('#channels').textContent = data.channels.length
    ? t('notifications.channels', { list: data.channels.map((c) => t(`notifications.ch_${c}`)).join(t('common.list_sep')) })
    : t('notifications.off');
  keyed($('#list'), [...list].reverse(), create, update);
  $('#empty').hidden = list.length > 0;
  $('#updated').textContent = t('notifications.updated', { time: when(loadedAt) });
}

async function load() {
  try {
    const r = await fetch(`/api/sessions/${sid}/notifications`, { headers: { Authorization: `Bearer ${key}` } });
    const body = await r.json();
    if (r.status === 403) return fatal(t('staff.bad_key'));
    if (!r.ok) return fatal(errorText(body));
    data = body;
    loadedAt = Date.now();
    $('#fatal').hidden = true;
    render();
  } catch {
    fatal(t('error.generic'));
  }
}

chrome(render);
if (!key) fatal(t('staff.no_key'));
else {
  const r = await fetch(`/api/sessions/${sid}`);
  if (r.ok) session = (await r.json()).session;
  else fatal(t('error.session_not_found'));
  render();
  await load();
  $('#refresh').addEventListener('click', load);
  setInterval(load, REFRESH_MS);
}
