/**
 * The closing page (/s/{id}/closing#key=...): 有问必答, the staff's work after the window.
 *
 * 待办结 lists every question without an outcome, live. Presenters give written replies (书面答复,
 * an answer in mode `written`); moderators tick questions and forward, merge, decline or carry
 * them over to the next episode in one request (`settle`, `carry_over`), and archive the session
 * once none is left; an admin may archive anyway, with a reason the audit trail keeps. Every
 * action is a protocol request and the server decides (docs/protocol.md, "Closing"); what is
 * settled already is shown below as the public will see it (./outcomes.js).
 */
import { errorText, t, time } from './i18n.js';
import { Live } from './live.js';
import { ENDED, OUTCOMES, Session } from './model.js';
import { rateText, renderOutcomes } from './outcomes.js';
import { $, announce, channelTag, fragmentKey, h, keyed, sessionId, staffChrome, toast } from './ui.js';

const sid = sessionId();
const model = new Session();
const REASONS = ['off_topic', 'duplicate', 'personal_case', 'abusive', 'other'];
const LABELS = { forward: 'moderator.forward', decline: 'moderator.reject', merge: 'closing.merge', carry: 'closing.carry' };
const selected = new Set();
let role = 'viewer';
let ready = false;
let bulk = null;

const live = new Live(sid, { token: fragmentKey(), handlers: {
  welcome(f) {
    role = f.role;
  },
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

const moderates = () => role === 'moderator' || role === 'admin';
const answers = () => role === 'presenter' || role === 'admin';

function tz() {
  return model.info.timezone || 'Asia/Shanghai';
}

async function act(type, fields, done) {
  try {
    const result = await live.request(type, fields);
    if (done) toast(done(result));
    return result;
  } catch (err) {
    toast(errorText(err), 'error');
    return null;
  }
}

/** One question waiting for an outcome: a tick box, its text, and what this role may do. */
function card(q) {
  const li = h('li', { class: 'mq' });
  const id = q.id;
  li.tick = h('input', { type: 'checkbox', id: `pick-${id}`, on: { change: (e) => pick(id, e.target.checked) } });
  li.head = h('label', { class: 'meta mq-head', htmlFor: `pick-${id}` });
  li.text = h('p', { class: 'mq-text' });
  li.approve = h('button', { type: 'button', class: 'btn small green', on: { click: () => act('approve', { question_id: id }, () => t('moderator.approved')) } });
  li.write = h('button', { type: 'button', class: 'btn small blue', on: { click: () => {
    li.form.hidden = !li.form.hidden;
    if (!li.form.hidden) li.area.focus();
  } } });
  li.area = h('textarea', { id: `written-${id}`, rows: 4, maxLength: 10000 });
  li.form = h('form', { class: 'mq-panel', hidden: true, on: { submit: (e) => {
    e.preventDefault();
    writtenReply(li, id);
  } } }, h('label', { htmlFor: `written-${id}` }), li.area,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn small blue' })));
  li.append(h('div', { class: 'pick' }, li.tick, li.head), li.text, h('div', { class: 'actions' }, li.approve, li.write), li.form);
  return li;
}

function update(li, q) {
  li.tick.hidden = !moderates();
  li.tick.checked = selected.has(q.id);
  li.head.replaceChildren(h('span', { class: 'qid' }, `#${q.id}`), ` ${q.name || ''} · ${time(q.asked_at, tz())} `,
    h('span', { class: 'chip', dataset: { status: q.status } }, t(`status.${q.status}`)), channelTag(q),
    q.carried_from ? ` · ${t('outcomes.carried_from')}` : '');
  li.text.textContent = q.text || '';
  li.approve.hidden = !moderates() || q.status === 'approved';
  li.approve.textContent = t(q.status === 'hidden' ? 'moderator.restore' : 'moderator.approve');
  li.write.hidden = !answers() || q.status !== 'approved';
  li.write.textContent = t('closing.written');
  if (li.write.hidden) li.form.hidden = true;
  li.form.querySelector('label').textContent = t('closing.written_label');
  li.form.querySelector('button').textContent = t('closing.written_publish');
}

async function writtenReply(li, id) {
  const text = li.area.value.trim();
  if (!text) return toast(t('presenter.err_empty'), 'error');
  if (await act('answer', { question_id: id, text, mode: 'written' }, () => t('presenter.published'))) li.area.value = '';
  return null;
}

function pick(id, on) {
  if (on) selected.add(id);
  else selected.delete(id);
  paintSelection();
}

function todo() {
  return [...model.questions.values()].filter((q) => q.outcome === 'none').sort((a, b) => a.id - b.id);
}

function paintSelection() {
  const waiting = new Set(todo().map((q) => q.id));
  for (const id of [...selected]) if (!waiting.has(id)) selected.delete(id);
  $('#selected').textContent = t('closing.selected', { n: selected.size });
  $('#select-all').checked = waiting.size > 0 && selected.size === waiting.size;
}

/** The form under the bulk buttons: the fields the chosen outcome needs. */
function openBulk(kind) {
  if (!selected.size) return toast(t('closing.none_selected'), 'error');
  bulk = kind;
  const fields = [];
  if (kind === 'forward') {
    fields.push(h('label', { htmlFor: 'bulk-dept' }, t('moderator.department')), h('input', { id: 'bulk-dept', maxLength: 100 }));
  } else if (kind === 'decline') {
    fields.push(h('label', { htmlFor: 'bulk-reason' }, t('moderator.reason')),
      h('select', { id: 'bulk-reason' }, REASONS.map((r) => h('option', { value: r }, t(`reason.${r}`)))));
  } else if (kind === 'merge') {
    const targets = [...model.questions.values()].filter((q) => !selected.has(q.id) && ['approved', 'answered'].includes(q.status));
    fields.push(h('label', { htmlFor: 'bulk-into' }, t('moderator.merge_into')),
      h('select', { id: 'bulk-into' }, h('option', { value: '' }, t('moderator.merge_choose')),
        targets.map((q) => h('option', { value: q.id }, `#${q.id} ${(q.text || '').slice(0, 40)}`))));
  }
  if (kind === 'forward' || kind === 'decline') {
    fields.push(h('label', { htmlFor: 'bulk-note' }, t('moderator.note'), ' ', h('span', { class: 'opt' }, t('common.optional'))),
      h('input', { id: 'bulk-note', maxLength: 1000 }));
  }
  if (kind === 'carry') fields.push(h('p', { class: 'meta' }, t('closing.carry_hint', { n: selected.size })));
  $('#bulk-fields').replaceChildren(...fields);
  $('#bulk-apply').textContent = t(LABELS[kind]);
  $('#bulk-form').hidden = false;
  const first = $('#bulk-fields').querySelector('input, select');
  if (first) first.focus();
  return null;
}

function closeBulk() {
  bulk = null;
  $('#bulk-form').hidden = true;
}

async function applyBulk() {
  const ids = [...selected];
  const value = (sel) => ($(sel) ? $(sel).value.trim() : '');
  let result;
  if (bulk === 'carry') {
    result = await act('carry_over', { question_ids: ids }, carried);
  } else if (bulk === 'forward') {
    if (!value('#bulk-dept')) return toast(t('moderator.department_needed'), 'error');
    result = await act('settle', { question_ids: ids, outcome: 'forwarded', department: value('#bulk-dept'), note: value('#bulk-note') }, settled);
  } else if (bulk === 'decline') {
    result = await act('settle', { question_ids: ids, outcome: 'declined', reason: value('#bulk-reason'), note: value('#bulk-note') }, settled);
  } else if (bulk === 'merge') {
    if (!value('#bulk-into')) return toast(t($('#bulk-into').options.length > 1 ? 'moderator.merge_pick' : 'moderator.merge_none'), 'error');
    result = await act('settle', { question_ids: ids, outcome: 'merged', into: Number(value('#bulk-into')) }, settled);
  }
  if (result) {
    selected.clear();
    closeBulk();
    render();
  }
  return null;
}

const settled = (r) => t('closing.done', { n: r.question_ids.length });

function carried(r) {
  const text = t('closing.carried', { n: r.carried.length });
  return r.skipped.length ? `${text} ${t('closing.skipped', { n: r.skipped.length })}` : text;
}

function render() {
  if (!ready) return;
  const i = model.info;
  $('#title').textContent = i.title || '';
  document.title = `${t('closing.doc_title')} - ${i.title || ''}`;
  const phase = model.phase(live.now());
  $('#phase').dataset.phase = phase;
  $('#phase').textContent = t(`phase.${phase}`);
  $('#not-yet').hidden = ENDED.has(phase);
  const counts = model.outcomes();
  $('#rate').textContent = rateText(counts);
  const items = todo();
  $('#todo-count').textContent = String(items.length);
  $('#todo-empty').hidden = items.length > 0;
  $('#bulk').hidden = !moderates() || items.length === 0 || phase === 'archived';
  $('#carry-all-row').hidden = !moderates() || phase !== 'closed' || !items.some((q) => q.status === 'approved');
  keyed($('#todo'), items, card, update);
  paintSelection();
  const archived = phase === 'archived';
  $('#archive-state').textContent = t(archived ? 'closing.archived' : (counts.none ? 'closing.archive_left' : 'closing.archive_ready'), { n: counts.none });
  $('#archive').hidden = archived || !moderates();
  $('#archive').disabled = phase !== 'closed' || counts.none > 0;
  $('#override').hidden = archived || role !== 'admin' || phase !== 'closed' || counts.none === 0;
  const done = [...model.questions.values()].filter((q) => q.outcome !== 'none');
  renderOutcomes($('#done'), done, counts, { tz: tz(), guest: i.guest_name, post: i.guest_post,
    only: OUTCOMES.filter((o) => o !== 'none') });
}

function setup() {
  staffChrome(live, render);
  $('#select-all').addEventListener('change', (e) => {
    selected.clear();
    if (e.target.checked) for (const q of todo()) selected.add(q.id);
    render();
  });
  for (const kind of ['forward', 'decline', 'merge', 'carry']) $(`#bulk-${kind}`).addEventListener('click', () => openBulk(kind));
  $('#bulk-cancel').addEventListener('click', closeBulk);
  $('#bulk-form').addEventListener('submit', (e) => {
    e.preventDefault();
    applyBulk();
  });
  $('#carry-all').addEventListener('click', () => act('carry_over', {}, carried));
  $('#archive').addEventListener('click', () => act('archive', {}, () => t('closing.archived')).then((r) => r && announce(t('closing.archived'))));
  $('#override-go').addEventListener('click', () => {
    const note = $('#override-note').value.trim();
    if (!note) return toast(t('closing.reason_needed'), 'error');
    return act('archive_override', { note }, () => t('closing.archived'));
  });
  setInterval(() => ready && render(), 5000);
  live.start();
}

setup();
