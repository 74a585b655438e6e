/**
 * The moderator page (/s/{id}/moderator#key=...): review what citizens ask before it goes public.
 *
 * The pending queue arrives live, oldest first, with blocked-word hits marked. Every action is
 * a protocol request; the server decides, so two moderators can work the same queue and the
 * slower one is told that the question was already handled instead of acting twice. Similar,
 * already answered questions (from /api/suggest) sit next to each pending one to help merging.
 * Questions received by hotline, SMS, WeChat or 12345 are typed in here (录入) as the same `ask`
 * with their channel, and their receipt number is shown large to be read back to the caller.
 */
import { actor } from './actor.js';
import { commitmentFields, commitmentView } from './commitment.js';
import { Confirm } from './confirm.js';
import { HeldPanel } from './held.js';
import { dateTime, errorText, keys, onLang, t, time, windowText } from './i18n.js';
import { Live, randomId } from './live.js';
import { ENDED, PUBLIC, Session } from './model.js';
import { Similar, mergeable } from './similar.js';
import { $, announce, channelTag, copy, fragmentKey, h, keyed, sessionId, staffChrome, toast } from './ui.js';

const sid = sessionId();
const model = new Session();
const REASONS = ['off_topic', 'duplicate', 'personal_case', 'abusive', 'other'];
const HANDLED = new Set(['rejected', 'merged', 'hidden', 'forwarded']);
let ready = false;
let tab = 'pending';
const fresh = new Set();
const panels = new Map();
const similar = new Similar(sid, model);

const live = new Live(sid, { token: fragmentKey(), handlers: {
  snapshot(f) {
    model.load(f);
    ready = true;
    render();
  },
  event(e) {
    const q = model.apply(e);
    if (ready && e.type === 'question.asked' && q) {
      fresh.add(q.id);
      if (q.status === 'pending') announce(t('moderator.new_pending'));
    }
    if (ready) render();
  },
  error: (f) => toast(errorText(f), 'error'),
} });
const held = new HeldPanel($('#held'), model, live);

function tz() {
  return model.info.timezone || 'Asia/Shanghai';
}

/** The text with blocked-word spans (code-point offsets from the server) wrapped in <mark>. */
function marked(text, spans) {
  const chars = Array.from(text || '');
  const out = [];
  let at = 0;
  for (const [start, end] of [...(spans || [])].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start) continue;
    out.push(chars.slice(at, start).join(''), h('mark', {}, chars.slice(start, end).join('')));
    at = end;
  }
  out.push(chars.slice(at).join(''));
  return out;
}

async function act(type, fields, done) {
  panels.delete(fields.question_id);
  try {
    await live.request(type, fields);
    if (done) toast(done);
    return true;
  } catch (err) {
    if (err.code === 'question_already_handled') {
      toast(t('moderator.already_handled', { status: t(`status.${err.details.status}`), by: err.details.by ? actor(err.details.by) : t('moderator.someone') }), 'error');
    } else toast(errorText(err), 'error');
    return false;
  }
}

function button(label, cls, onClick) {
  return h('button', { type: 'button', class: `btn small ${cls}`, dataset: { label }, on: { click: onClick } });
}

function card(q) {
  const li = h('li', { class: 'mq' });
  const id = q.id;
  li.head = h('p', { class: 'meta mq-head' });
  li.flag = h('p', { class: 'flag' });
  li.text = h('p', { class: 'mq-text' });
  li.orig = h('p', { class: 'meta orig' });
  li.outcome = h('div', { class: 'mq-outcome' });
  li.buttons = {
    approve: button('moderator.approve', 'green', () => act('approve', { question_id: id }, t('moderator.approved'))),
    answering: button('moderator.answering', '', () => act('answering', { question_id: id })),
    edit: button('moderator.edit', '', () => panel(li, id, 'edit')),
    merge: button('moderator.merge', '', () => panel(li, id, 'merge')),
    forward: button('moderator.forward', '', () => panel(li, id, 'forward')),
    hide: button('moderator.hide', '', () => act('hide', { question_id: id }, t('moderator.hidden'))),
    reject: button('moderator.reject', 'primary', () => panel(li, id, 'reject')),
    commitment: button('moderator.commitment', 'blue', () => panel(li, id, 'commitment')),
    progress: button('moderator.progress', 'blue', () => panel(li, id, 'progress')),
    answer: button('held.type_answer', '', () => panel(li, id, 'answer')),
  };
  li.actions = h('div', { class: 'actions' }, Object.values(li.buttons));
  li.panel = h('div', { class: 'mq-panel', hidden: true });
  li.similar = h('div', { class: 'similar', hidden: true });
  li.append(li.head, li.flag, li.text, li.orig, li.outcome, li.actions, li.panel, li.similar);
  return li;
}

/** Which actions each status offers; the server has the final word on every one of them. */
const ALLOWED = {
  pending: ['approve', 'edit', 'merge', 'forward', 'reject'],
  approved: ['answering', 'edit', 'merge', 'forward', 'hide', 'answer'],
  answered: ['hide', 'answer', 'commitment', 'progress'],
  hidden: ['approve', 'edit', 'merge', 'forward'],
  forwarded: ['commitment', 'progress'],
};

function update(li, q) {
  const status = q.status;
  li.classList.toggle('flagged', !!(q.flags && q.flags.words && q.flags.words.length));
  if (fresh.delete(q.id)) li.classList.add('fresh');
  li.head.replaceChildren(h('span', { class: 'qid' }, `#${q.id}`), ` ${q.name || ''} · ${time(q.asked_at, tz())} `,
    h('span', { class: 'chip', dataset: { status } }, t(`status.${status}`)), channelTag(q),
    PUBLIC.has(status) ? ` · ${t('presenter.votes', { n: q.votes || 0 })}` : '',
    q.id === model.answering ? h('span', { class: 'chip now-chip' }, t('viewer.answering_now')) : '');
  const words = (q.flags && q.flags.words) || [];
  li.flag.hidden = words.length === 0;
  li.flag.textContent = words.length ? t('moderator.flagged', { words: words.join(t('common.list_sep')) }) : '';
  li.text.replaceChildren(...marked(q.text, q.flags && q.flags.spans));
  li.orig.hidden = !q.original_text || q.original_text === q.text;
  li.orig.textContent = li.orig.hidden ? '' : t('moderator.original', { text: q.original_text });
  li.outcome.replaceChildren(...outcome(q));
  const allowed = ALLOWED[status] || [];
  for (const [name, b] of Object.entries(li.buttons)) {
    b.hidden = !allowed.includes(name);
    b.textContent = t(status === 'hidden' && name === 'approve' ? 'moderator.restore' : b.dataset.label);
  }
  li.buttons.commitment.hidden ||= !!q.commitment;
  li.buttons.progress.hidden ||= !q.commitment || q.commitment.status === 'done';
  if (li.open && !panels.has(q.id)) closePanel(li);
  if (li.open === 'merge' && li.targets) fillTargets(li.targets, q);
  if (status === 'pending') {
    similar.show(li.similar, q, (into) => act('merge', { question_id: q.id, into }, t('moderator.merged')));
  } else li.similar.hidden = true;
}

function outcome(q) {
  const out = [];
  if (q.status === 'rejected') out.push(h('p', { class: 'meta' }, t('viewer.reason', { reason: t(`reason.${q.reason || 'other'}`) }), q.note ? ` · ${q.note}` : ''));
  if (q.status === 'merged') out.push(h('p', { class: 'meta' }, t('moderator.merged_into', { id: q.merged_into })));
  if (q.status === 'forwarded') out.push(h('p', { class: 'meta' }, t('viewer.forwarded', { dept: q.department || '' }), q.note ? ` · ${q.note}` : ''));
  if (q.answer) out.push(h('p', { class: 'meta' }, `${t('moderator.answer')}${q.answer.text || t(`answer.by_${q.answer.mode || 'text'}`, { name: q.answer.by || '', post: '' })}`));
  if (q.commitment) out.push(commitmentView(q.commitment, tz()));
  return out;
}

/**
 * The merge list under q, kept up to date as questions arrive and change: every question q may
 * be merged into (a pending one too), newest first, each with its status. Nothing is chosen
 * unless one of them is probably the same question (similar.js), and a choice the moderator
 * made stays as long as that question can still be merged into.
 */
function fillTargets(box, q) {
  const targets = [...model.questions.values()].filter((x) => mergeable(q, x)).sort((a, b) => b.id - a.id);
  const option = (x) => `#${x.id} · ${t(`status.${x.status}`)} · ${Array.from(x.text || '').slice(0, 40).join('')}`;
  const signature = `${t('lang.html')}|${targets.map((x) => `${x.id}:${x.status}:${x.text}`).join('|')}`;
  const chosen = box.into.dataset.chosen ?? String(similar.closest(q) ?? '');
  if (box.into.dataset.signature !== signature) {
    box.into.dataset.signature = signature;
    box.into.replaceChildren(h('option', { value: '' }, t('moderator.merge_choose')), ...targets.map((x) => h('option', { value: x.id }, option(x))));
  }
  const value = targets.some((x) => String(x.id) === chosen) ? chosen : '';
  if (box.into.value !== value) box.into.value = value;
  box.into.hidden = box.label.hidden = targets.length === 0;
  box.none.hidden = targets.length > 0;
}

function closePanel(li) {
  panels.delete(Number(li.dataset.key));
  li.open = null;
  li.targets = null;
  li.panel.hidden = true;
  li.panel.replaceChildren();
}

/** One inline form under a question: edit, reject (with a reason), merge or forward. */
function panel(li, id, kind) {
  if (li.open === kind) return closePanel(li);
  const q = model.questions.get(id);
  li.open = kind;
  panels.set(id, q.status);
  const uid = `${kind}-${id}`;
  const cancel = h('button', { type: 'button', class: 'btn small', text: t('common.cancel'), on: { click: () => closePanel(li) } });
  let fields;
  let submit;
  if (kind === 'edit') {
    const area = h('textarea', { id: uid, rows: 3, value: q.text || '' });
    fields = [h('label', { htmlFor: uid }, t('moderator.edit_label')), area];
    submit = () => act('edit', { question_id: id, text: area.value.trim() }, t('moderator.edited'));
  } else if (kind === 'reject') {
    const reason = h('select', { id: uid }, REASONS.map((r) => h('option', { value: r }, t(`reason.${r}`))));
    const note = h('input', { id: `${uid}-note`, maxLength: 200 });
    fields = [h('label', { htmlFor: uid }, t('moderator.reason')), reason,
      h('label', { htmlFor: `${uid}-note` }, t('moderator.note'), ' ', h('span', { class: 'opt' }, t('common.optional'))), note];
    submit = () => act('reject', { question_id: id, reason: reason.value, note: note.value.trim() }, t('moderator.rejected'));
  } else if (kind === 'answer') {
    const area = h('textarea', { id: uid, rows: 4, maxLength: 10000 });
    fields = [h('label', { htmlFor: uid }, t('held.answer_label')), area];
    submit = () => (area.value.trim() ? act('answer', { question_id: id, text: area.value.trim() }, t('held.sent'))
      : (toast(t('presenter.err_empty'), 'error'), false));
  } else if (kind === 'merge') {
    const into = h('select', { id: uid, on: { change: () => { into.dataset.chosen = into.value; } } });
    li.targets = { into, none: h('p', { class: 'meta' }, t('moderator.merge_none')), label: h('label', { htmlFor: uid }, t('moderator.merge_into')) };
    fillTargets(li.targets, q);
    fields = [li.targets.label, into, li.targets.none];
    submit = () => (into.value ? act('merge', { question_id: id, into: Number(into.value) }, t('moderator.merged'))
      : (toast(t('moderator.merge_pick'), 'error'), false));
  } else if (kind === 'commitment' || kind === 'progress') {
    const done = t(kind === 'commitment' ? 'moderator.committed' : 'moderator.progressed');
    ({ fields, submit } = commitmentFields(kind, q, uid, (args) => act(kind, { question_id: id, ...args }, done)));
  } else {
    const dept = h('input', { id: uid, maxLength: 100, required: true });
    const note = h('input', { id: `${uid}-note`, maxLength: 200 });
    fields = [h('label', { htmlFor: uid }, t('moderator.department')), dept,
      h('label', { htmlFor: `${uid}-note` }, t('moderator.note'), ' ', h('span', { class: 'opt' }, t('common.optional'))), note];
    submit = () => (dept.value.trim() ? act('forward', { question_id: id, department: dept.value.trim(), note: note.value.trim() }, t('moderator.forwarded'))
      : (toast(t('moderator.department_needed'), 'error'), false));
  }
  const form = h('form', { class: 'inline-form', on: { submit: async (e) => {
    e.preventDefault();
    if (await submit()) closePanel(li);
  } } }, fields, h('div', { class: 'actions' },
    h('button', { type: 'submit', class: `btn small ${kind === 'reject' ? 'primary' : 'blue'}` }, t(`moderator.confirm_${kind}`)), cancel));
  li.panel.replaceChildren(form);
  li.panel.hidden = false;
  const first = form.querySelector('textarea, select, input');
  if (first) first.focus();
}

function render() {
  if (!ready) return;
  const i = model.info;
  $('#title').textContent = i.title || '';
  document.title = `${t('moderator.doc_title')} - ${i.title || ''}`;
  const c = model.counts();
  for (const k of ['pending', 'received', 'published', 'answered', 'declined']) $(`#c-${k}`).textContent = String(c[k]);
  $('#stat-pending').classList.toggle('warn', c.pending > 0);
  $('#c-merged').textContent = String(c.merged + c.hidden + c.forwarded);
  $('#window').textContent = windowText(i.starts_at, i.ends_at, tz());
  $('#mode').value = i.moderation || 'pre';
  for (const [id, status] of panels) {
    const q = model.questions.get(id);
    if (q && q.status !== status) {
      panels.delete(id);
      toast(t('moderator.changed_elsewhere', { id, status: t(`status.${q.status}`) }));
    }
  }
  const all = [...model.questions.values()];
  const lists = {
    pending: all.filter((q) => q.status === 'pending').sort((a, b) => a.asked_at - b.asked_at),
    published: all.filter((q) => PUBLIC.has(q.status)).sort((a, b) => b.asked_at - a.asked_at),
    handled: all.filter((q) => HANDLED.has(q.status)).sort((a, b) => b.id - a.id),
  };
  held.render();
  renderEntered();
  for (const [name, items] of Object.entries(lists)) {
    $(`#n-${name}`).textContent = String(items.length);
    $(`#${name}-empty`).hidden = items.length > 0;
    keyed($(`#${name}`), items, card, update);
  }
  tick();
}

let entered = null; // the last question typed in from a call: its ack and channel

/** The channels a call or message comes by: the strings file's channel.* keys but the web page's. */
function channelOptions() {
  const select = $('#enter-channel');
  const chosen = select.value;
  select.replaceChildren(...keys('channel.').map((k) => k.slice('channel.'.length)).filter((c) => c !== 'web')
    .map((c) => h('option', { value: c }, t(`channel.${c}`))));
  if (chosen) select.value = chosen;
}

function renderEntered() {
  $('#enter-receipt').hidden = !entered;
  if (!entered) return;
  const q = model.questions.get(entered.question_id);
  $('#enter-about').textContent = t('enter.about', { id: entered.question_id, channel: t(`channel.${entered.channel}`),
    status: t(`status.${q ? q.status : entered.status}`) });
  $('#enter-receipt-no').textContent = entered.receipt;
  $('#enter-secret').textContent = entered.secret || '';
}

async function enter(ev) {
  ev.preventDefault();
  const text = $('#enter-text').value.trim();
  if (!text) {
    toast(t('enter.empty'), 'error');
    $('#enter-text').focus();
    return;
  }
  const channel = $('#enter-channel').value;
  const fields = { client_id: randomId(), channel, text, name: $('#enter-name').value.trim(), contact: $('#enter-contact').value.trim() };
  try {
    entered = { ...(await live.request('ask', fields, { resend: true })), channel };
    for (const id of ['#enter-text', '#enter-name', '#enter-contact']) $(id).value = '';
    renderEntered();
    toast(t('enter.sent'));
  } catch (err) {
    toast(errorText(err), 'error');
  }
}

let ending = null;
function tick() {
  if (!ready) return;
  const phase = model.phase(live.now());
  $('#phase').dataset.phase = phase;
  $('#phase').textContent = t(`phase.${phase}`);
  $('#open').hidden = phase === 'open';
  if (ENDED.has(phase)) ending.close(false);
  $('#close').hidden = ENDED.has(phase) || ending.isOpen;
  $('#closing-link').classList.toggle('primary', ENDED.has(phase));
  held.tick();
}

function extend(minutes) {
  const base = Math.max(model.info.ends_at || 0, live.now());
  const ends = base + minutes * 60000;
  act('extend', { ends_at: ends }, t('moderator.extended', { time: dateTime(ends, tz()) }));
}

function showTab(name) {
  tab = name;
  for (const b of document.querySelectorAll('.tab')) {
    const on = b.dataset.tab === name;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
    $(`#panel-${b.dataset.tab}`).hidden = !on;
  }
}

function setup() {
  staffChrome(live, render);
  $('#open').addEventListener('click', () => act('open', {}, t('moderator.opened')));
  ending = new Confirm($('#close'), { ask: 'moderator.close_ask', yes: 'moderator.close_confirm',
    run: () => act('close', {}, t('moderator.closed')), changed: tick });
  $('#close').after(ending.box);
  $('#extend15').addEventListener('click', () => extend(15));
  $('#extend30').addEventListener('click', () => extend(30));
  $('#closing-link').href = `/s/${sid}/closing#key=${encodeURIComponent(fragmentKey())}`;
  channelOptions();
  onLang(channelOptions);
  $('#enter-form').addEventListener('submit', enter);
  $('#enter-copy').addEventListener('click', (e) => entered && copy(entered.receipt, e.target));
  $('#mode').addEventListener('change', (e) => act('set_moderation', { mode: e.target.value }, t('moderator.mode_set')));
  const tabs = [...document.querySelectorAll('.tab')];
  for (const b of tabs) {
    b.addEventListener('click', () => showTab(b.dataset.tab));
    b.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      const next = tabs[(tabs.indexOf(b) + step + tabs.length) % tabs.length];
      showTab(next.dataset.tab);
      next.focus();
    });
  }
  showTab(tab);
  setInterval(tick, 1000);
  live.start();
}

setup();
$('#notifications-link').href = `/s/${sid}/notifications#key=${encodeURIComponent(fragmentKey())}`;
$('#host-link').href = `/s/${sid}/host#key=${encodeURIComponent(fragmentKey())}`; // a moderator may host (live/auth.py)
