/**
 * The viewer page (/s/{id}): a citizen on a phone watches answers arrive and asks a question.
 *
 * The ask box (./ask.js) is the point of the page, so it is never more than one tap away (the
 * floating button) and explains itself: the "how to ask" steps stay open until this device
 * has asked once. Everything else follows the live event stream: the question being answered
 * now, answers newest first (announced to screen readers), the questions others asked with
 * their "me too" votes, and the status of my own questions (a notice when one moves on).
 * It adopts the server's items and fills the page's <template>s (docs/pages.md).
 */
import { countdown, dateTime, errorText, t, windowText } from './i18n.js';
import { Asker } from './ask.js';
import { Live } from './live.js';
import { ENDED, PUBLIC, Session } from './model.js';
import { $, announce, answerView, askedValues, brand, chrome, episodeLabel, fill, indicator, keyed, questionValues, recordHead, retract, sessionId, show, speakAnswers, stylesheet, sync, toast } from './ui.js';

const sid = sessionId();
const model = new Session();
const live = new Live(sid, { handlers: { welcome, snapshot, event, presence, error: (f) => toast(errorText(f), 'error') } });
const asker = new Asker(live, sid, () => render(), (m) => notify(m));
let ready = false;
let voted = new Set();
let viewers = null;
const fresh = new Set();
let programme = '';
let lastPhase = null;

function welcome(f) {
  voted = new Set(f.votes || []);
  asker.merge(f.mine);
}

function snapshot(f) {
  model.load(f);
  if (!ready) loadProgramme();
  ready = true;
  render();
}

function event(e) {
  const q = model.apply(e);
  if (!ready) return;
  const own = q && asker.owns(q.id);
  if (e.type === 'question.answered' && q) {
    fresh.add(q.id);
    announce(t(own ? 'viewer.new_answer_mine' : 'viewer.new_answer', { q: q.text || '' }), q.id);
  } else if (e.type === 'question.answering' && q) {
    announce(t('viewer.now_announce', { q: q.text || '' }), q.id);
  } else if (e.type === 'host.remarked') {
    fresh.add(`p${e.data.post.id}`);
    announce(`${t('post.host')} ${e.data.post.text}`);
  } else if (e.type === 'host.announced' || e.type === 'photo.posted') fresh.add(`p${e.data.post.id}`);
  if (own) asker.refresh(); // then notify()
  schedule();
}

function presence(n) {
  viewers = n;
  paintPresence();
}

let queued = false;
function schedule() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(() => {
    queued = false;
    render();
  });
}

function tz() {
  return model.info.timezone || 'Asia/Shanghai';
}

function paintPresence() {
  $('#presence').hidden = viewers == null;
  if (viewers != null) $('#presence').textContent = t('viewer.presence', { n: viewers });
}

function render() {
  const i = model.info;
  if (!ready) return;
  document.title = programme ? `${i.title} - ${programme}` : i.title;
  if (programme) $('#programme').textContent = programme; // a language switch re-labels it site.name
  $('#title').textContent = i.title || '';
  $('#episode').textContent = episodeLabel(i);
  $('#guest-name').textContent = i.guest_name || '';
  $('#guest-post').textContent = i.guest_post || '';
  $('#window').textContent = windowText(i.starts_at, i.ends_at, tz());
  $('#description').textContent = i.description || '';
  retract((id) => PUBLIC.has(model.questions.get(id)?.status));
  paintPresence();
  tick();
  renderNow();
  renderMine();
  notice?.render();
  renderAnswered();
  renderOpen();
  renderEnded();
}

/** After the window, every question's outcome (有问必答); its code is fetched only then. */
let outcomes = null;
async function renderEnded() {
  if (!ENDED.has(model.phase(live.now()))) return;
  if (!outcomes) {
    stylesheet('outcomes.css');
    outcomes = import('./outcomes.js');
  }
  const { renderOutcomes } = await outcomes;
  renderOutcomes($('#outcomes-body'), [...model.questions.values()], model.outcomes(),
    { tz: tz(), guest: model.info.guest_name, post: model.info.guest_post });
}

/** The broadcast above the Q&A (./stream.js), fetched once the session has a stream or recording;
 * atLoad: the URLs the page loaded with, which its CSP lets media in from. */
let broadcast = null;
let atLoad = null;
function renderStream(phase) {
  const i = model.info;
  atLoad ??= [i.stream?.url, i.recording?.url];
  if (!broadcast && (i.stream || i.recording)) {
    broadcast = import('./stream.js').then((m) => {
      broadcast = new m.Broadcast($('#stream'), { sid, tz, allowed: atLoad });
      tick();
    }, () => { broadcast = null; });
  }
  broadcast?.update?.(i, phase);
}

/** Everything that depends on the clock: the phase badge, the countdown, whether asking is possible. */
function tick() {
  if (!ready) return;
  const now = live.now();
  const phase = model.phase(now);
  renderStream(phase);
  const i = model.info;
  $('#phase').dataset.phase = phase;
  $('#phase').textContent = t(`phase.${phase}`);
  const cd = $('#countdown');
  const ended = ENDED.has(phase);
  cd.hidden = ended;
  if (phase === 'open') cd.textContent = t('viewer.ends_in', { t: countdown(i.ends_at - now) });
  else if (!ended) cd.textContent = t('viewer.starts_in', { t: countdown(i.starts_at - now) });
  if (phase === lastPhase) return;
  lastPhase = phase;
  const accepting = phase === 'open' || phase === 'collecting';
  // After the window the page is the session's outcomes (有问必答), with the replay a tap away.
  $('#closed').hidden = !ended;
  $('#closed-title').textContent = t(phase === 'archived' ? 'viewer.archived_title' : 'viewer.closed_title');
  $('#closed-text').textContent = t(phase === 'archived' ? 'viewer.archived_text' : 'viewer.closed_text');
  $('#outcomes').hidden = !ended;
  $('#open').hidden = ended;
  $('#answered').hidden = ended;
  $('#ask').hidden = ended;
  renderEnded();
  asker.show(accepting);
  $('#fab').hidden = !accepting;
  const state = $('#ask-state');
  state.hidden = phase === 'open';
  state.dataset.phase = phase;
  if (phase === 'upcoming') {
    state.textContent = t('viewer.ask_upcoming', { time: dateTime(i.collect_from ?? i.starts_at, tz()) });
  } else if (phase === 'collecting') state.textContent = t('viewer.ask_collecting');
}

function renderNow() {
  const q = model.answering == null ? null : model.questions.get(model.answering);
  $('#now').hidden = !q || !q.text;
  if (!q || !q.text) return;
  sync($('#now .now-q'), fill('now', { text: q.text, ...askedValues(q, tz()) }));
}

function answerBlock(q) {
  return answerView(q.answer || {}, { guest: model.info.guest_name, post: model.info.guest_post, tz: tz() });
}

function answeredItem(q) {
  const li = fill('answered', questionValues(q, tz()));
  li.append(answerBlock(q));
  return li;
}

let Studio = null;
/** How the studio's posts look (./studio.js, css/studio.css), fetched when the session first
 * has one: a session without a host costs a phone nothing for them. */
function studio() {
  if (!Studio && model.posts.size) {
    stylesheet('studio.css');
    Studio = import('./studio.js').then((m) => { Studio = m; schedule(); }, () => { Studio = null; });
  }
  return Studio?.timeline ? Studio : null;
}

/** The answers, newest first, with the studio's posts among them: the host's lines, photos.
 * Until the posts' module has come, the list stays as it is (the server's, with its posts). */
function renderAnswered() {
  const answered = model.list('answered', 'answered');
  const S = studio();
  if (model.posts.size && !S) return;
  const items = S ? S.timeline(answered, model.posts, model.questions) : answered.map((q) => ({ id: q.id, q }));
  recordHead(answered.length, model.posts.size);
  $('#answered-empty').hidden = items.length > 0;
  show($('#answered-list'), items,
    (x) => (x.post ? S.postItem(x.post, { sid, tz: tz(), questions: model.questions }) : answeredItem(x.q)), fresh);
}

function openItem(q) {
  const on = voted.has(q.id);
  const own = asker.owns(q.id); // no 同问 on one's own: 我提的问题
  const n = q.votes || 0;
  return fill('open', { ...questionValues(q, tz()), pressed: String(on), vote_label: t(on ? 'viewer.unvote_label' : 'viewer.vote_label', { n }),
    vote_word: t(on ? 'viewer.voted' : 'viewer.vote'), votes: String(n), own, not_own: !own, own_word: t('viewer.own_question') });
}

async function toggleVote(id) {
  const q = model.questions.get(id);
  if (!q) return;
  const on = !voted.has(id);
  if (on) voted.add(id);
  else voted.delete(id);
  q.votes = Math.max(0, (q.votes || 0) + (on ? 1 : -1));
  renderOpen();
  try {
    await live.request(on ? 'vote' : 'unvote', { question_id: id }, { resend: true });
  } catch (err) {
    if (on) voted.delete(id);
    else voted.add(id);
    q.votes = Math.max(0, (q.votes || 0) + (on ? -1 : 1));
    renderOpen();
    toast(errorText(err), 'error');
  }
}

function renderOpen() {
  const items = model.list('approved', 'votes').filter((q) => q.id !== model.answering);
  $('#open-count').textContent = items.length ? String(items.length) : '';
  $('#open-empty').hidden = items.length > 0;
  show($('#open-list'), items, openItem);
}

/** My questions, newest first: the server's items adopted, each kept current by its template. */
function renderMine() {
  $('#mine').hidden = asker.mine.length === 0;
  const items = [...asker.mine].reverse().map((m) => ({ ...m, id: m.id ?? m.client_id }));
  // Until a commitment's module has come, the list stays as it is (the server's, with it).
  if (items.some((m) => mineView(m)?.commitment) && !commitments()) return;
  keyed($('#mine-list'), items, mineItem, (li, m) => {
    sync(li, mineItem(m));
    const q = mineView(m);
    if (q?.rating_until != null) say(li, { ...q, id: m.id });
  });
}

/** One of my questions as the server shows it to me, with the latest public result over it
 * (status, outcome, answer); null while it is being sent. */
function mineView(m) {
  return m.view || model.questions.has(m.id) ? { ...m.view, ...model.questions.get(m.id) } : null;
}

/** One of my questions (t-mine, the `mine` macro), then its answer and the commitment made on it. */
function mineItem(m) {
  const q = mineView(m);
  const li = fill('mine', mineValues(m, q));
  if (q?.status === 'answered') li.append(answerBlock(q));
  const c = promised(q);
  if (c) li.append(c);
  return li;
}

/** The slots of one of my questions: its text, its status and receipt number, and what became of
 * it in words (reason or department with the staff's note, the review hint) or as a link (the
 * question it was merged into, the episode it was carried over to). */
function mineValues(m, q) {
  const status = m.sending ? 'sending' : q?.status || 'pending';
  const values = { key: String(m.id), dom_id: `mine-${m.id}`, text: q?.text || m.text || t('viewer.mine_no_text'),
    status, status_word: t(`status.${status}`), receipt: m.receipt ? `${t('common.receipt')}${m.receipt}` : '' };
  if (!q) return values;
  const note = (head) => [head, q.note || ''].filter(Boolean).join(' ');
  if (q.status === 'rejected') values.note = note(t('viewer.reason', { reason: t(`reason.${q.reason || 'other'}`) }));
  else if (q.status === 'forwarded') values.note = note(t('viewer.forwarded', { dept: q.department || '' }));
  else if (q.status === 'merged') Object.assign(values, { link: t('viewer.merged_link'), link_href: `#q-${q.merged_into}` });
  else if (q.status !== 'answered' && q.carried_to) {
    Object.assign(values, { link: t('outcomes.carried_to'),
      link_href: `/s/${q.carried_to.session_id}#q-${q.carried_to.question_id}` });
  } else if (q.status === 'pending') values.note = t('viewer.pending_hint');
  return values;
}

let Commitment = null;
/** How a commitment (承诺事项) and its progress look (./commitment.js, css/commitment.css),
 * fetched when one of my questions first has one; null until it has come (offline: none drawn). */
function commitments() {
  if (!Commitment) {
    stylesheet('commitment.css');
    Commitment = import('./commitment.js').then((m) => { Commitment = m; schedule(); },
      () => { Commitment = { commitmentView: () => null }; schedule(); });
  }
  return Commitment.commitmentView ? Commitment : null;
}

/** The promise made on one of my questions and its progress, as the receipt lookup shows it. */
function promised(q) {
  return q?.commitment ? commitments()?.commitmentView(q.commitment, tz(), q.overdue ?? null) ?? null : null;
}

let Say = null;
/** The rating and follow-up block (./say.js) under one of my questions; it keeps its form while
 * the rest is redrawn. Loaded when first needed, so a phone that never asks never downloads it. */
function say(li, q) {
  if (!Say) {
    import('./say.js').then((m) => { Say = m.Say; schedule(); }, () => {}); // offline: no block, no error
    return;
  }
  if (!li.say) {
    li.say = new Say({ send: (type, fields) => live.request(type, { question_id: q.id, ...fields }),
      now: () => live.now(), tz, changed: () => asker.refresh() });
    li.say.el.dataset.added = 'say'; // not the template's: a redraw (sync) leaves it as it is
  }
  if (!li.say.el.isConnected) li.append(li.say.el);
  li.say.update(q);
}

let notice = null;
let noticing = null;
/** One of my questions moved on: say so (./notice.js, loaded when first needed, like ./say.js). */
function notify(m) {
  noticing ??= import('./notice.js').then((x) => (notice = new x.Notice(tz, asker)));
  noticing.then((n) => n.show(m), () => { noticing = null; }); // offline: 我的问题 says it
}

async function loadProgramme() {
  try {
    const r = await fetch('/api/programmes');
    const p = ((await r.json()).programmes || []).find((x) => x.id === model.info.programme_id);
    if (p) {
      programme = p.title;
      brand(p.title);
      render();
    }
  } catch {
    /* the site name stays */
  }
}

function setup() {
  asker.setup();
  speakAnswers($('main'), '.answer-text:not(.answer-oral)'); // 朗读 under every answer
  $('#open-list').addEventListener('click', (e) => { // 同问
    const button = e.target.closest('.vote');
    if (button) toggleVote(Number(button.closest('li').dataset.key));
  });
  $('#fab').addEventListener('click', (e) => {
    e.preventDefault();
    $('#ask').scrollIntoView({ behavior: 'smooth', block: 'start' });
    ($('#ask-form').hidden ? $('#ask') : $('#q-text')).focus({ preventScroll: true });
  });
  if ('IntersectionObserver' in window) {
    new IntersectionObserver(([entry]) => document.body.classList.toggle('ask-visible', entry.isIntersecting))
      .observe($('#ask'));
  }
  live.on.status = (state, detail) => {
    if (state === 'stopped' && detail.code === 4404) $('#title').textContent = t('error.session_not_found');
  };
  indicator($('#conn'), live);
  chrome(() => {
    lastPhase = null;
    asker.count();
    render();
  });
  live.start();
  setInterval(tick, 1000);
}

setup();
