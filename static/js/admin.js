/**
 * The admin page (/admin#key=...): programmes, sessions, and the staff links for each session.
 *
 * The admin key comes from the link's fragment (or is typed in, and then kept only for this
 * tab) and travels as an Authorization header. Staff keys are stored hashed on the server, so
 * links can be shown when a session is created or when they are rotated, never read back;
 * rotating makes the old ones stop working at once, which is why it asks for a second click.
 */
import { actor } from './actor.js';
import { fillStream, readStream } from './admin-stream.js';
import { Confirm } from './confirm.js';
import { date, errorText, has, t, time } from './i18n.js';
import { $, announce, chrome, copy, episodeTitle, fragmentKey, h, toast } from './ui.js';

const KEY = 'live.admin';
let key = fragmentKey() || sessionStorage.getItem(KEY) || '';
let programmes = [];
let sessions = [];
let editingSession = null;
let editingProgramme = null;
let links = null;
const confirming = new Set();

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.code || String(r.status)), { status: r.status, body: data });
  return data;
}

function failure(err) {
  if (err.status === 403 || err.status === 401) return t('admin.bad_key');
  return err.body ? errorText(err.body) : t('error.network');
}

/** A timestamp as the value of a datetime-local input, in the session's timezone. */
function localInput(ms, tz) {
  if (ms == null) return '';
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(ms).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

async function load() {
  const [p, s] = await Promise.all([fetch('/api/programmes').then((r) => r.json()), fetch('/api/sessions').then((r) => r.json())]);
  programmes = p.programmes || [];
  sessions = s.sessions || [];
  render();
}

function render() {
  renderSessions();
  renderAudit();
  renderProgrammes();
  renderLinks();
  $('#session-form-title').textContent = editingSession ? t('admin.edit_session', { n: editingSession.episode }) : t('admin.new_session');
  $('#session-submit').textContent = t(editingSession ? 'common.save' : 'admin.create');
  $('#programme-form-title').textContent = editingProgramme ? t('admin.edit_programme', { title: editingProgramme.title }) : t('admin.new_programme');
  $('#programme-submit').textContent = t(editingProgramme ? 'common.save' : 'admin.create');
  $('#session-new').textContent = t(editingSession ? 'admin.cancel_edit' : 'admin.clear');
  $('#programme-new').textContent = t(editingProgramme ? 'admin.cancel_edit' : 'admin.clear');
  const select = $('#s-programme');
  const value = select.value;
  select.replaceChildren(...programmes.map((p) => h('option', { value: p.id }, p.title)));
  if (value) select.value = value;
}

/** A button that asks before acting; the question stays open, across re-renders, until answered. */
function confirmed(id, label, ask, yes, action) {
  const b = h('button', { type: 'button', class: 'btn small' }, t(label));
  const step = new Confirm(b, { ask, yes, run: action, changed: (open) => (open ? confirming.add(id) : confirming.delete(id)) });
  if (confirming.has(id)) step.open(false);
  return [b, step.box];
}

function renderSessions() {
  $('#session-groups').replaceChildren(...programmes.map((p) => {
    const mine = sessions.filter((s) => s.programme_id === p.id).sort((a, b) => b.starts_at - a.starts_at);
    return h('div', { class: 'group' }, h('h3', {}, p.title), mine.length ? h('ul', { class: 'list plist' }, mine.map((s) => {
      const tz = s.timezone || 'Asia/Shanghai';
      return h('li', { class: 'pq admin-session', dataset: { session: s.id } },
        h('div', { class: 'pq-main' },
          h('p', { class: 'pq-text' }, episodeTitle(s)),
          h('p', { class: 'meta' }, h('span', { class: 'badge', dataset: { phase: s.phase } }, t(`phase.${s.phase}`)), ' ',
            `${date(s.starts_at, tz)} ${time(s.starts_at, tz)}–${time(s.ends_at, tz)} · ${s.guest_name} ${s.guest_post || ''}`)),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn small', on: { click: () => editSession(s) } }, t('admin.edit')),
          ...confirmed(`rotate-${s.id}`, 'admin.rotate', 'admin.rotate_ask', 'admin.rotate_confirm', () => rotate(s)),
          h('button', { type: 'button', class: 'btn small', on: { click: () => showAudit(s) } }, t('admin.audit')),
          h('a', { class: 'btn small', href: `/s/${s.id}/transcript#key=${key}`, target: '_blank', rel: 'noopener' },
            t('admin.open_record')),
          h('a', { class: 'btn small', href: `/s/${s.id}`, target: '_blank', rel: 'noopener' }, t('admin.open_viewer')),
          h('a', { class: 'btn small', href: `/s/${s.id}/screen`, target: '_blank', rel: 'noopener' }, t('admin.open_screen'))));
    })) : h('p', { class: 'empty' }, t('admin.no_sessions')));
  }));
}

/** What an event type did, in words: one string per type that live/state.py applies. */
function action(type) {
  return has(`audit.event.${type}`) ? t(`audit.event.${type}`) : type;
}

/** One field's value in words: statuses, phases, modes and reasons by their labels. */
function shown(k, v, tz) {
  const key = { status: `status.${v}`, phase: `phase.${v}`, mode: `moderator.mode_${v}`, reason: `reason.${v}` }[k];
  if (key && has(key)) return t(key);
  if (k === 'ends_at' && typeof v === 'number') return `${date(v, tz)} ${time(v, tz)}`;
  if (k === 'into') return `#${v}`;
  return String(v);
}

/** What changed in one audited action, as plain text: before -> after, for the fields that differ. */
function change(row, tz) {
  const before = row.before || {};
  const after = row.after && row.after.question ? { ...row.after, ...row.after.question } : (row.after || {});
  const status = { 'question.answered': 'answered', 'question.rejected': 'rejected', 'question.merged': 'merged',
    'question.hidden': 'hidden', 'question.forwarded': 'forwarded', 'question.carried_over': 'carried_over' }[row.action];
  if (status && after.status === undefined) after.status = status;
  const parts = [];
  if (after.id != null) parts.push(`#${after.id}`);
  for (const k of ['status', 'text', 'phase', 'mode', 'ends_at']) {
    if (before[k] !== undefined && after[k] !== undefined && before[k] !== after[k]) {
      parts.push(`${t(`audit.field.${k}`)}${t('audit.colon')}${shown(k, before[k], tz)} → ${shown(k, after[k], tz)}`);
    }
  }
  if (after.answer) parts.push(after.answer.text || t(`presenter.mode_${after.answer.mode || 'text'}`));
  const post = after.post; // the studio's (live/studio.py): a remark, a question read out, a photo
  const said = post && (post.text || post.caption || (post.question_id != null ? `#${post.question_id}` : ''));
  if (said) parts.push(said);
  for (const k of ['reason', 'department', 'into', 'note']) if (after[k]) parts.push(`${t(`audit.field.${k}`)}${t('audit.colon')}${shown(k, after[k], tz)}`);
  const held = row.action.startsWith('question.answer_') && (after.held || before.held);
  if (held) parts.push(held.text);
  if (row.typed_by) parts.push(t('admin.audit_typed_by', { who: actor(row.typed_by) }));
  if (row.reason) parts.push(t('admin.audit_reason', { reason: row.reason }));
  return parts.join(' · ');
}

let audited = null;

async function showAudit(s) {
  try {
    audited = { session: s, rows: (await api('GET', `/api/sessions/${s.id}/audit`)).audit };
    renderAudit();
    $('#audit-csv').onclick = () => downloadAudit(s);
    $('#audit').hidden = false;
    $('#audit').focus();
  } catch (err) {
    toast(failure(err));
  }
}

function renderAudit() {
  if (!audited) return;
  const s = audited.session;
  const tz = s.timezone || 'Asia/Shanghai';
  $('#audit-session').textContent = episodeTitle(s);
  $('#audit-rows').replaceChildren(...audited.rows.map((r) => h('tr', {},
    h('td', {}, `${date(r.at, tz)} ${time(r.at, tz)}`), h('td', { title: r.who }, actor(r.who)),
    h('td', { title: r.action }, action(r.action)), h('td', {}, change(r, tz)))));
}

async function downloadAudit(s) {
  const r = await fetch(`/api/sessions/${s.id}/audit?format=csv`, { headers: { authorization: `Bearer ${key}` } });
  if (!r.ok) return toast(t('admin.bad_key'));
  const a = h('a', { href: URL.createObjectURL(await r.blob()), attrs: { download: `session-${s.id}-audit.csv` } });
  a.click();
  URL.revokeObjectURL(a.href);
}

function renderProgrammes() {
  $('#programme-list').replaceChildren(...programmes.map((p) => h('li', { class: 'pq' },
    h('div', { class: 'pq-main' }, h('p', { class: 'pq-text' }, p.title, ' ', h('span', { class: 'meta' }, `(${p.slug})`)),
      p.description ? h('p', { class: 'meta' }, p.description) : null),
    h('button', { type: 'button', class: 'btn small', on: { click: () => editProgramme(p) } }, t('admin.edit')))));
}

function renderLinks() {
  $('#links').hidden = !links;
  if (!links) return;
  $('#links-session').textContent = episodeTitle(links.session);
  const all = { viewer: links.links.viewer, screen: `/s/${links.session.id}/screen`, presenter: links.links.presenter,
    moderator: links.links.moderator, host: links.links.host };
  $('#link-list').replaceChildren(...Object.entries(all).flatMap(([role, path]) => {
    const url = location.origin + path;
    return [h('dt', {}, t(`admin.link_${role}`)), h('dd', {}, h('code', { class: 'url' }, url), ' ',
      h('button', { type: 'button', class: 'btn small', dataset: { copy: role }, on: { click: (e) => copy(url, e.currentTarget) } }, t('common.copy')))];
  }));
}

function showLinks(session, newLinks) {
  links = { session, links: newLinks };
  renderLinks();
  $('#links').focus();
  announce(t('admin.links_ready'));
}

async function rotate(s) {
  try {
    showLinks(s, (await api('POST', `/api/sessions/${s.id}/links`)).links);
    toast(t('admin.rotated'));
  } catch (err) {
    toast(failure(err), 'error');
  }
}

function editSession(s) {
  editingSession = s;
  const tz = s.timezone || 'Asia/Shanghai';
  $('#s-programme').value = s.programme_id;
  $('#s-programme').disabled = true;
  $('#s-episode').value = s.episode;
  $('#s-title').value = s.title;
  $('#s-guest').value = s.guest_name;
  $('#s-post').value = s.guest_post || '';
  $('#s-start').value = localInput(s.starts_at, tz);
  $('#s-end').value = localInput(s.ends_at, tz);
  $('#s-collect').value = localInput(s.collect_from, tz);
  $('#s-tz').value = tz;
  $('#s-desc').value = s.description || '';
  $('#s-moderation').value = s.moderation || 'pre';
  $('#s-review').value = s.answer_review || 'none';
  $('#s-delay').value = s.answer_delay_s || 30;
  fillStream(s);
  render();
  $('#s-title').focus();
}

function resetSession() {
  editingSession = null;
  $('#session-form').reset();
  $('#s-programme').disabled = false;
  $('#s-tz').value = 'Asia/Shanghai';
  fillStream(null);
  render();
}

async function saveSession(ev) {
  ev.preventDefault();
  const body = { episode: Number($('#s-episode').value), title: $('#s-title').value.trim(), guest_name: $('#s-guest').value.trim(),
    guest_post: $('#s-post').value.trim(), starts_at: $('#s-start').value, ends_at: $('#s-end').value,
    timezone: $('#s-tz').value.trim(), description: $('#s-desc').value.trim(), moderation: $('#s-moderation').value };
  body.answer_review = $('#s-review').value;
  body.answer_delay_s = Number($('#s-delay').value) || 30;
  Object.assign(body, readStream());
  const collect = $('#s-collect').value;
  $('#session-error').textContent = '';
  if (!body.episode || !body.title || !body.guest_name || !body.starts_at || !body.ends_at) {
    $('#session-error').textContent = t('admin.required');
    return;
  }
  try {
    if (editingSession) {
      await api('PATCH', `/api/sessions/${editingSession.id}`, { ...body, collect_from: collect || null });
      toast(t('admin.saved'));
    } else {
      if (collect) body.collect_from = collect;
      const created = await api('POST', '/api/sessions', { programme_id: Number($('#s-programme').value), ...body });
      showLinks(created, created.links);
      toast(t('admin.created'));
    }
    resetSession();
    await load();
  } catch (err) {
    $('#session-error').textContent = failure(err);
  }
}

function editProgramme(p) {
  editingProgramme = p;
  $('#p-title').value = p.title;
  $('#p-slug').value = p.slug;
  $('#p-slug').disabled = true;
  $('#p-desc').value = p.description || '';
  render();
  $('#p-title').focus();
}

function resetProgramme() {
  editingProgramme = null;
  $('#programme-form').reset();
  $('#p-slug').disabled = false;
  render();
}

async function saveProgramme(ev) {
  ev.preventDefault();
  const title = $('#p-title').value.trim();
  const slug = $('#p-slug').value.trim();
  const description = $('#p-desc').value.trim();
  $('#programme-error').textContent = '';
  $('#p-slug').removeAttribute('aria-invalid');
  if (!title) {
    $('#programme-error').textContent = t('admin.programme_required');
    return;
  }
  try {
    if (editingProgramme) await api('PATCH', `/api/programmes/${editingProgramme.id}`, { title, description });
    else await api('POST', '/api/programmes', { slug, title, description });
    toast(t('admin.saved'));
    resetProgramme();
    await load();
  } catch (err) {
    $('#programme-error').textContent = failure(err); // bad_slug: the server's message states the rule
    if (err.body && err.body.code === 'bad_slug') {
      $('#p-slug').setAttribute('aria-invalid', 'true');
      $('#p-slug').focus();
    }
  }
}

async function loadWords() {
  if (!key) return;
  try {
    const words = (await api('GET', '/api/filter/words')).words || [];
    $('#words').value = words.join('\n');
    $('#words-count').textContent = t('admin.words_count', { n: words.length });
  } catch (err) {
    $('#words-error').textContent = failure(err);
  }
}

async function saveWords(ev) {
  ev.preventDefault();
  $('#words-error').textContent = '';
  const words = $('#words').value.split('\n').map((w) => w.trim()).filter(Boolean);
  try {
    const r = await api('PUT', '/api/filter/words', { words });
    $('#words-count').textContent = t('admin.words_count', { n: r.count });
    toast(t('admin.saved'));
  } catch (err) {
    $('#words-error').textContent = failure(err);
  }
}

function setup() {
  chrome(render);
  $('#key-box').hidden = !!key;
  $('#key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    key = $('#key-input').value.trim();
    sessionStorage.setItem(KEY, key);
    $('#key-box').hidden = !!key;
    loadWords();
  });
  if (key) sessionStorage.setItem(KEY, key);
  $('#session-form').addEventListener('submit', saveSession);
  $('#session-new').addEventListener('click', resetSession);
  $('#programme-form').addEventListener('submit', saveProgramme);
  $('#programme-new').addEventListener('click', resetProgramme);
  $('#words-form').addEventListener('submit', saveWords);
  loadWords();
  load().catch(() => toast(t('error.network'), 'error'));
}

setup();
