/**
 * The replay page (/s/{id}/replay): a finished session played back from its event log.
 *
 * The whole public log is read once (paged), laid out on a timeline by timeline.js, and the
 * state at any position is the same fold the live pages use (model.js) over the events up to
 * it: forward is incremental, backward refolds from the start (cheap next to a network read).
 * So the end of the timeline is the final state by construction. Links can point at a moment
 * (?t=<ms from the start>, or ?at=<ms since the epoch>, as the commitment board links to when
 * a promise was said) or a question (#q<id>, shown with its answer).
 */
import { errorText, t, windowText } from './i18n.js';
import { ENDED, PUBLIC, Session } from './model.js';
import { renderOutcomes } from './outcomes.js';
import { SPEEDS, chapters, countAt, delay, offsetAt, schedule } from './timeline.js';
import { $, announce, answerView, brand, chrome, copy, episodeLabel, fill, h, questionValues, recordHead, retract, sessionId, show, speakAnswers, typing } from './ui.js';
import { postItem, timeline } from './studio.js';

const sid = sessionId();
const PAGE = 1000;
const MAX_PAGES = 10000;
const TICK = 250;
const player = $('#player');
let events = [];
let plan = { start: 0, end: 0, duration: 0, offsets: [] };
let final = new Session();
let view = new Session();
let shown = 0;
let position = 0;
let speed = 1;
let playing = false;
let lastTick = 0;
let timer = null;
let target = null;
let marks = [];
let touched = new Set();
let programme = '';
let drawn = -1;
let recording = null; // the session's recording (./recording.js), when it has one: then it is the clock

function tz() {
  return final.info.timezone || 'Asia/Shanghai';
}

function clockText(ms) {
  const s = Math.floor(ms / 1000);
  const pad = (n) => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${hms}` : hms;
}

let wallFormat = null;
function wallText(ms) {
  if (!wallFormat || wallFormat.tz !== tz()) {
    const f = new Intl.DateTimeFormat(t('lang.locale'), { timeZone: tz(), month: 'numeric', day: 'numeric',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    wallFormat = { tz: tz(), f };
  }
  return wallFormat.f.format(ms);
}

async function load() {
  let after = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await fetch(`/api/sessions/${sid}/events?after=${after}&limit=${PAGE}`);
    const body = await r.json();
    if (!r.ok) throw body;
    events.push(...body.events);
    after = body.next;
    $('#loading').textContent = t('replay.loading_n', { n: events.length });
    if (!body.more) break;
  }
  events.forEach((e, i) => {
    if (e.seq !== i + 1) throw new Error(`log gap at ${i + 1}`);
  });
  plan = schedule(events);
  for (const e of events) final.apply(e);
}

/** Show the state at position p (ms from the start of the timeline). */
function seek(p) {
  position = Math.min(plan.duration, Math.max(0, p));
  const n = countAt(plan.offsets, position);
  if (n < shown) {
    view = new Session();
    shown = 0;
    touched.clear();
  }
  for (; shown < n; shown++) {
    const q = view.apply(events[shown]);
    if (q && playing) touched.add(q.id);
  }
  render();
}

function loop() {
  clearTimeout(timer);
  if (!playing) return;
  const now = performance.now();
  const before = shown;
  seek(position + (now - lastTick) * speed);
  lastTick = now;
  if (shown > before) announceLatest(before);
  if (position >= plan.duration) {
    pause(true);
    return;
  }
  const next = shown < events.length ? plan.offsets[shown] : plan.duration;
  timer = setTimeout(loop, Math.min(TICK, delay(next, position, speed)));
}

function announceLatest(from) {
  for (let i = shown - 1; i >= from; i--) {
    const e = events[i];
    if (e.type === 'question.answered') {
      const q = view.questions.get(e.data.question.id);
      if (PUBLIC.has(q?.status)) announce(t('viewer.new_answer', { q: q.text || '' }), q.id);
      return;
    }
  }
}

function play() {
  if (recording) return recording.play();
  if (position >= plan.duration) seek(0);
  playing = true;
  lastTick = performance.now();
  loop();
}

function pause(ended = false) {
  recording?.pause();
  playing = false;
  clearTimeout(timer);
  player.dataset.state = ended ? 'ended' : 'paused';
  render();
}

/** A person moved the timeline: the recording goes there too. */
function moveTo(p) {
  seek(p);
  recording?.seek(position);
}

/** The recording played, paused or was seeked: the timeline follows it. */
function follow(p, on) {
  playing = on;
  player.dataset.state = on ? 'playing' : 'paused';
  seek(p);
}

function jump(chapter) {
  target = chapter.id;
  moveTo(chapter.offset);
  render(true);
  history.replaceState(null, '', `#q${chapter.id}`);
  const card = document.getElementById(`q${chapter.id}`);
  if (card) {
    card.scrollIntoView({ block: 'center' });
    card.focus({ preventScroll: true });
  }
}

/** Controls on every tick; the session's content only when the events shown changed (or force). */
function render(force = false) {
  player.dataset.seq = shown ? String(events[shown - 1].seq) : '0';
  player.dataset.position = String(Math.round(position));
  if (playing) player.dataset.state = 'playing';
  const play = $('#play');
  play.textContent = t(playing ? 'replay.pause' : (position >= plan.duration && shown ? 'replay.again' : 'replay.play'));
  play.setAttribute('aria-pressed', String(playing));
  $('#seek').value = String(position);
  $('#elapsed').textContent = clockText(position);
  $('#total').textContent = clockText(plan.duration);
  $('#wall').textContent = events.length ? t('replay.wall', { time: wallText(plan.start + position) }) : '';
  $('#status').textContent = player.dataset.state === 'ended' ? t('replay.ended') : '';
  retract((id) => PUBLIC.has(view.questions.get(id)?.status));
  if (!force && drawn === shown) return;
  drawn = shown;
  renderHeader();
  renderNow();
  renderLists();
}

function renderHeader() {
  const i = final.info;
  document.title = `${t('replay.badge')} · ${i.title || ''}${programme ? ` - ${programme}` : ''}`;
  $('#title').textContent = i.title || '';
  $('#episode').textContent = episodeLabel(i);
  $('#guest-name').textContent = i.guest_name || '';
  $('#guest-post').textContent = i.guest_post || '';
  if (i.starts_at) $('#window').textContent = windowText(i.starts_at, i.ends_at, tz());
  $('#live-note').hidden = ENDED.has(final.phase(Date.now()));
}

function renderNow() {
  const q = view.answering == null ? null : view.questions.get(view.answering);
  $('#now').hidden = !q || !q.text;
  if (q && q.text) $('#now-text').textContent = q.text;
  const c = view.counts();
  $('#counts').textContent = t('replay.counts', { received: c.received, published: c.published, answered: c.answered });
}

/** A question as the replay shows it at this moment (the `question` macro's t-replay): the
 * votes then, its answer if it had one by then, and where the recording has it said. */
function item(q, id) {
  const li = fill('replay', { ...questionValues(q, tz(), 'q'), votes: q.votes ? t('replay.votes', { n: q.votes }) : '' });
  if (q.answer) li.append(answerView(q.answer, { guest: final.info.guest_name, post: final.info.guest_post, tz: tz() }));
  const link = q.answer?.mode === 'video' ? recording?.answerLink(q.id) : null;
  if (link) li.append(link);
  li.classList.toggle('target', id === target);
  return li;
}

/** Show items ({id, q} or {id, post}) in list, each from its template, the nodes that stay kept. */
function showItems(list, items) {
  show(list, items, (x) => (x.post ? postItem(x.post, { sid, tz: tz(), questions: view.questions }) : item(x.q, x.id)), touched);
}

/** The answers as of this moment, newest first, with the studio's posts among them. */
function fillRecord(list, answered) {
  // A post withdrawn later is gone from every view, the moments before its withdrawal too.
  const standing = new Map([...view.posts].filter(([id]) => final.posts.has(id)));
  const items = timeline(answered, standing, view.questions);
  showItems(list, items);
  return items.length;
}

function renderLists() {
  const answered = view.list('answered', 'answered');
  const open = view.list('approved', 'votes');
  const shownItems = fillRecord($('#answered-list'), answered);
  recordHead(answered.length, final.posts.size);
  showItems($('#open-list'), open.map((q) => ({ id: q.id, q })));
  $('#open-count').textContent = open.length ? String(open.length) : '';
  $('#answered-empty').hidden = shownItems > 0;
  $('#open-empty').hidden = open.length > 0;
  touched.clear();
}

/** The chapters (the `chapter` macro's t-chapter): each at its place on the timeline. */
function renderChapters() {
  const published = marks.filter((c) => PUBLIC.has(final.questions.get(c.id)?.status));
  $('#chapters-empty').hidden = published.length > 0;
  show($('#chapter-list'), published, (c) => {
    const q = final.questions.get(c.id);
    return fill('chapter', { key: String(c.id), href: `#q${c.id}`, time: clockText(c.offset), text: q.text,
      status: q.status, status_word: t(`status.${q.status}`) });
  });
  $('#marks').replaceChildren(...published.map((c) => {
    const mark = h('span', { class: c.answered ? 'mark answered' : 'mark' });
    mark.style.left = `${plan.duration ? (c.offset / plan.duration) * 100 : 0}%`;
    return mark;
  }));
}

/** How the session ended (the final state, whatever the position): every question's outcome. */
function renderEnd() {
  const ended = ENDED.has(final.phase(Date.now()));
  $('#outcomes').hidden = !ended;
  if (ended) {
    renderOutcomes($('#outcomes-body'), [...final.questions.values()], final.outcomes(),
      { tz: tz(), guest: final.info.guest_name, post: final.info.guest_post });
  }
}

function setup() {
  // On a phone the player is fixed at the bottom (css/replay.css); the page keeps as much room
  // under its end as the player takes, which grows with the text size and the words' length.
  new ResizeObserver(() => {
    document.documentElement.style.setProperty('--player-height', `${player.offsetHeight}px`);
  }).observe(player);
  $('#speed').replaceChildren(...SPEEDS.map((s) => h('option', { value: String(s) }, `${s}×`)));
  const params = new URLSearchParams(location.search);
  if (SPEEDS.includes(Number(params.get('speed')))) speed = Number(params.get('speed'));
  $('#speed').value = String(speed);
  $('#speed').addEventListener('change', (e) => {
    speed = Number(e.target.value);
    recording?.rate(speed);
    if (playing && !recording) loop();
  });
  $('#play').addEventListener('click', () => (playing ? pause() : play()));
  $('#chapter-list').addEventListener('click', (e) => { // a chapter: its link, played to
    const link = e.target.closest('.chapter');
    const chapter = link && marks.find((c) => c.id === Number(link.dataset.id));
    if (!chapter) return;
    e.preventDefault();
    jump(chapter);
  });
  $('#seek').addEventListener('input', (e) => {
    target = null;
    if (!playing) player.dataset.state = 'paused';
    moveTo(Number(e.target.value));
    lastTick = performance.now();
  });
  $('#share').addEventListener('click', (e) => {
    copy(`${location.origin}/s/${sid}/replay?t=${Math.round(position)}`, e.currentTarget);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== ' ' || typing(e) || e.target instanceof HTMLButtonElement) return;
    e.preventDefault();
    if (playing) pause();
    else play();
  });
  $('#transcript-link').href = `/s/${sid}/transcript`;
  $('#live-link').href = `/s/${sid}`;
}

async function loadProgramme() {
  try {
    const r = await fetch('/api/programmes');
    const p = ((await r.json()).programmes || []).find((x) => x.id === final.info.programme_id);
    if (p) {
      programme = p.title;
      brand(p.title);
      render(true);
    }
  } catch {
    /* the site name stays */
  }
}

async function main() {
  chrome(() => {
    wallFormat = null;
    render(true);
    renderChapters();
    renderEnd();
  });
  setup();
  speakAnswers($('main'), '.answer-text:not(.answer-oral)'); // 朗读 under every answer
  player.dataset.state = 'loading';
  $('#loading').hidden = false;
  try {
    await load();
  } catch (err) {
    $('#loading').hidden = true;
    $('#load-error').textContent = errorText(err);
    player.dataset.state = 'error';
    return;
  }
  $('#loading').hidden = true;
  marks = chapters(events, plan.offsets);
  const seekBar = $('#seek');
  seekBar.max = String(plan.duration);
  for (const id of ['play', 'speed', 'seek', 'share']) $(`#${id}`).disabled = false;
  player.dataset.state = 'paused';
  renderChapters();
  renderEnd();
  loadProgramme();
  if (final.info.recording) {
    const { Recording } = await import('./recording.js');
    recording = new Recording($('#recording'), final.info.recording, { start: plan.start, events, offsets: plan.offsets,
      moved: follow,
      jump: (p) => { target = null; moveTo(p); },
      lost: () => { recording = null; render(true); } }); // a broken recording: the replay's own clock
    recording.rate(speed);
  }
  const fromHash = location.hash.match(/^#q(\d+)$/);
  const chapter = fromHash && marks.find((c) => c.id === Number(fromHash[1]));
  const at = Number(new URLSearchParams(location.search).get('t'));
  const wall = Number(new URLSearchParams(location.search).get('at')); // a moment (ms since the epoch)
  if (chapter) jump(chapter);
  else if (wall > 0) moveTo(offsetAt(events, plan.offsets, wall));
  else if (at > 0) moveTo(at);
  else moveTo(plan.duration); // where the server's page showed it: the end, the final record
}

main();
