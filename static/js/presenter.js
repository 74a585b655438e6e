/**
 * The presenter page (/s/{id}/presenter#key=...): the official, in the studio, answers.
 *
 * Large type, one question in focus, and the whole loop on the keyboard (J/K to move, Enter to
 * start, A to write, Ctrl+Enter to publish), so the official can keep eyes on the camera. The
 * pacing panel turns the time left and the questions waiting into minutes per question.
 */
import { HeldPanel } from './held.js';
import { countdown, errorText, t, time } from './i18n.js';
import { Live } from './live.js';
import { ENDED, Session } from './model.js';
import { $, announce, channelTag, fragmentKey, h, keyed, sessionId, staffChrome, toast, typing } from './ui.js';

const sid = sessionId();
const key = fragmentKey();
const model = new Session();
const SORT = 'live.presenter.sort';
let sort = localStorage.getItem(SORT) === 'time' ? 'time' : 'votes';
let selected = null;
let appendTo = null;
let ready = false;

const live = new Live(sid, { token: key, handlers: {
  snapshot(f) {
    model.load(f);
    ready = true;
    render();
  },
  event(e) {
    const q = model.apply(e);
    if (ready && e.type === 'question.approved' && q) announce(t('presenter.new_question', { q: q.text }));
    if (ready) render();
  },
  error: (f) => toast(errorText(f), 'error'),
} });
const held = new HeldPanel($('#held'), model, live);

function tz() {
  return model.info.timezone || 'Asia/Shanghai';
}

function queue() {
  return model.list('approved', sort).filter((q) => q.id !== model.answering);
}

/** The question the composer writes for: the one being answered, else the one picked in the queue. */
function target() {
  if (appendTo != null) return model.questions.get(appendTo) || null;
  if (model.answering != null) return model.questions.get(model.answering) || null;
  return selected != null ? model.questions.get(selected) || null : null;
}

function render() {
  if (!ready) return;
  const i = model.info;
  $('#title').textContent = `${i.title || ''}`;
  document.title = `${t('presenter.doc_title')} - ${i.title || ''}`;
  const items = queue();
  if (selected == null || !items.some((q) => q.id === selected)) selected = items[0] ? items[0].id : null;
  renderCurrent();
  renderQueue(items);
  renderDone();
  held.render();
  tick();
}

function renderCurrent() {
  const q = target();
  const answering = q && q.id === model.answering;
  $('#cur-label').textContent = t(answering ? 'presenter.current' : q && q.status === 'answered'
    ? 'presenter.amend' : q ? 'presenter.selected' : 'presenter.current');
  $('#cur-empty').hidden = !!q;
  $('#cur-text').textContent = q ? q.text : '';
  $('#cur-meta').replaceChildren(q ? `${q.name} · ${time(q.asked_at, tz())} · ${t('presenter.votes', { n: q.votes || 0 })}` : '', channelTag(q));
  $('#start').hidden = !q || answering || q.status !== 'approved';
  $('#stop').hidden = model.answering == null;
  $('#answer-form').hidden = !q;
  const answered = q && q.status === 'answered';
  $('#append-row').hidden = !answered;
  $('#cur-answer').hidden = !(answered && q.answer);
  if (answered && q.answer) $('#cur-answer').textContent = q.answer.text || t(`answer.by_${q.answer.mode || 'text'}`, { name: q.answer.by || '', post: '' });
  $('#publish').textContent = t(answered ? 'presenter.publish_amend' : 'presenter.publish');
}

function renderQueue(items) {
  $('#queue-count').textContent = String(items.length);
  $('#queue-empty').hidden = items.length > 0;
  $('#sort-votes').setAttribute('aria-pressed', String(sort === 'votes'));
  $('#sort-time').setAttribute('aria-pressed', String(sort === 'time'));
  keyed($('#queue'), items, (q) => {
    const li = h('li', { class: 'pq', on: { click: () => select(q.id) } });
    li.go = h('button', { type: 'button', class: 'btn small primary', on: { click: (e) => { e.stopPropagation(); start(q.id); } } });
    return li;
  }, (li, q) => {
    const on = q.id === selected;
    li.classList.toggle('selected', on);
    li.setAttribute('aria-current', String(on));
    li.go.textContent = t('presenter.start_short');
    li.go.setAttribute('aria-label', `${t('presenter.start_short')}: ${q.text}`);
    li.replaceChildren(
      h('span', { class: 'votes-n', attrs: { 'aria-label': t('presenter.votes', { n: q.votes || 0 }) } }, String(q.votes || 0)),
      h('div', { class: 'pq-main' }, h('p', { class: 'pq-text' }, q.text),
        h('p', { class: 'meta' }, `${q.name} · ${time(q.asked_at, tz())}`, channelTag(q))),
      li.go);
  });
  const el = $('#queue .selected');
  if (el) el.scrollIntoView({ block: 'nearest' });
}

function renderDone() {
  const items = model.list('answered', 'answered');
  $('#done-empty').hidden = items.length > 0;
  keyed($('#done'), items, (q) => {
    const li = h('li', { class: 'pq' });
    li.amend = h('button', { type: 'button', class: 'btn small', on: { click: () => amend(q.id) } });
    return li;
  }, (li, q) => {
    li.amend.textContent = t('presenter.amend_button');
    li.replaceChildren(h('div', { class: 'pq-main' }, h('p', { class: 'pq-text' }, q.text),
      h('p', { class: 'meta' }, q.answer && q.answer.text ? q.answer.text : t(`answer.by_${(q.answer && q.answer.mode) || 'text'}`, { name: '', post: '' }))), li.amend);
  });
}

function tick() {
  if (!ready) return;
  const now = live.now();
  const phase = model.phase(now);
  const c = model.counts();
  const waiting = model.list('approved').length;
  const left = model.info.ends_at - now;
  $('#p-left').textContent = ENDED.has(phase) ? t(`phase.${phase}`) : countdown(phase === 'open' ? left : model.info.starts_at - now);
  $('#p-left-label').textContent = t(phase === 'open' || ENDED.has(phase) ? 'presenter.time_left' : 'presenter.starts_in');
  // After the window an answer is a written reply (书面答复): the server takes no other mode.
  if (ENDED.has(phase)) document.querySelector('input[name="mode"][value="written"]').checked = true;
  $('#stat-left').classList.toggle('warn', phase === 'open' && left < 10 * 60000);
  $('#p-waiting').textContent = String(waiting);
  $('#p-answered').textContent = String(c.answered);
  $('#p-each').textContent = phase === 'open' && waiting
    ? t('presenter.minutes', { n: Math.max(0, Math.floor(left / 60000 / waiting)) }) : '–';
  held.tick();
}

function select(id) {
  appendTo = null;
  selected = id;
  render();
}

function move(step) {
  const items = queue();
  if (!items.length) return;
  const at = items.findIndex((q) => q.id === selected);
  select(items[Math.min(items.length - 1, Math.max(0, at + step))].id);
}

async function send(type, fields, done) {
  try {
    await live.request(type, fields);
    if (done) announce(done);
  } catch (err) {
    toast(errorText(err), 'error');
  }
}

function start(id) {
  appendTo = null;
  if (id != null) send('answering', { question_id: id }, t('presenter.started'));
}

function amend(id) {
  appendTo = id;
  render();
  $('#append').checked = true;
  $('#answer-text').focus();
}

async function publish(forceMode) {
  const q = target();
  if (!q) return;
  const mode = forceMode || document.querySelector('input[name="mode"]:checked').value;
  const text = $('#answer-text').value.trim();
  if (!text && mode !== 'video') {
    toast(t('presenter.err_empty'), 'error');
    $('#answer-text').focus();
    return;
  }
  const fields = { question_id: q.id, mode };
  if (text) fields.text = text;
  if (q.status === 'answered') fields.append = $('#append').checked;
  try {
    const result = await live.request('answer', fields);
    $('#answer-text').value = '';
    document.querySelector('input[name="mode"][value="text"]').checked = true;
    appendTo = null;
    const done = !result.held ? t('presenter.published') : t(result.release_at ? 'held.sent_delay' : 'held.sent');
    announce(done);
    toast(done);
    render();
  } catch (err) {
    toast(errorText(err), 'error');
  }
}

function setSort(next) {
  sort = next;
  localStorage.setItem(SORT, sort);
  render();
}

function keys(e) {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    publish();
    return;
  }
  if (e.key === 'Escape') {
    if (document.activeElement) document.activeElement.blur();
    appendTo = null;
    render();
    return;
  }
  if (typing(e) || e.ctrlKey || e.metaKey || e.altKey || e.target.tagName === 'BUTTON' && e.key === 'Enter') return;
  const actions = {
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    Enter: () => start(selected), a: () => $('#answer-text').focus(), v: () => publish('video'),
    x: () => send('answering', { question_id: null }, t('presenter.stopped')),
    s: () => setSort(sort === 'votes' ? 'time' : 'votes'), '?': () => $('#shortcuts').focus(),
  };
  const fn = actions[e.key] || actions[e.key.toLowerCase()];
  if (fn) {
    e.preventDefault();
    fn();
  }
}

function setup() {
  staffChrome(live, render);
  $('#start').addEventListener('click', () => start(target() && target().id));
  $('#stop').addEventListener('click', () => send('answering', { question_id: null }, t('presenter.stopped')));
  $('#answer-form').addEventListener('submit', (e) => {
    e.preventDefault();
    publish();
  });
  $('#sort-votes').addEventListener('click', () => setSort('votes'));
  $('#sort-time').addEventListener('click', () => setSort('time'));
  document.addEventListener('keydown', keys);
  setInterval(tick, 1000);
  live.start();
}

setup();
