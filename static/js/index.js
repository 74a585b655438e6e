/**
 * The programme page (/): for each programme, the episode that is live now, the announced ones
 * (预告) with date, time, topic and official, and the past ones with links to their replay;
 * and the receipt lookup, where an asker sees what became of a question without an account.
 * 预约: a countdown to each programme's next episode (by the server's clock, every second; a
 * link to the live page once it starts), each upcoming episode's calendar file (加入日历), and
 * the programme's Atom feed of episodes (<link rel="alternate"> in the head, and a link).
 */
import { commitmentView } from './commitment.js';
import { countdown, date, day, errorText, t, time, windowText } from './i18n.js';
import { Say } from './say.js';
import { $, announce, answerView, chrome, episodeTitle, h } from './ui.js';

let programmes = [];
let sessions = [];
let lastReceipt = null;
let say = null; // the receipt's say block (./say.js), kept while the same receipt is shown
let offset = 0; // the server's clock less this device's (GET /api/sessions says `now`)
const now = () => Date.now() + offset;

const tzOf = (s) => s.timezone || 'Asia/Shanghai';
const guest = (s) => [s.guest_name, s.guest_post].filter(Boolean).join(' ');

function liveCard(s) {
  return h('article', { class: 'card live-card' },
    h('p', {}, h('span', { class: 'badge', dataset: { phase: 'open' } }, t('phase.open'))),
    h('h3', {}, episodeTitle(s)),
    h('p', {}, t('index.guest', { guest: guest(s) })),
    h('p', { class: 'meta' }, windowText(s.starts_at, s.ends_at, tzOf(s))),
    h('a', { class: 'btn primary big', href: `/s/${s.id}` }, t('index.join')));
}

function upcomingItem(s) {
  const tz = tzOf(s);
  return h('li', {},
    h('p', { class: 'when' }, day(s.starts_at, tz), h('br'), `${time(s.starts_at, tz)}–${time(s.ends_at, tz)}`),
    h('div', { class: 'ep-main' },
      h('h4', {}, h('a', { href: `/s/${s.id}` }, episodeTitle(s))),
      h('p', { class: 'meta' }, t('index.guest', { guest: guest(s) })),
      calendarLink(s),
      s.phase === 'collecting' ? h('p', { class: 'meta' }, h('span', { class: 'badge', dataset: { phase: 'collecting' } }, t('phase.collecting'))) : null,
      s.collect_from != null ? h('p', { class: 'meta' }, t('index.collect_runs', {
        from: `${day(s.collect_from, tz)} ${time(s.collect_from, tz)}`,
        until: `${day(s.ends_at, tz)} ${time(s.ends_at, tz)}` })) : null));
}

/** 加入日历: the episode's .ics (its time in the session's timezone, a reminder before it). */
function calendarLink(s) {
  return h('p', { class: 'small' }, h('a', { class: 'cal-link', href: `/s/${s.id}/calendar.ics`,
    attrs: { type: 'text/calendar', 'aria-label': t('index.calendar_label', { episode: episodeTitle(s) }) } }, t('index.calendar')));
}

/** The next episode's countdown; tick() keeps it to the second, and turns it into a link at the start. */
function countdownCard(s) {
  const box = h('div', { class: 'card countdown', dataset: { id: s.id, start: s.starts_at } },
    h('p', { class: 'cd-next' }, t('index.next', { episode: episodeTitle(s) })),
    h('p', { class: 'cd-clock', attrs: { role: 'timer' } }, h('span', { class: 'cd-label' }, t('index.countdown')), ' ',
      h('span', { class: 'cd-time' })),
    h('a', { class: 'btn primary big cd-live', href: `/s/${s.id}`, hidden: true }, t('index.started', { episode: episodeTitle(s) })),
    h('p', { class: 'meta' }, windowText(s.starts_at, s.ends_at, tzOf(s))), calendarLink(s));
  tickOne(box);
  return box;
}

function tickOne(box) {
  const left = Number(box.dataset.start) - now();
  const started = left <= 0;
  box.querySelector('.cd-time').textContent = countdown(left);
  for (const el of box.querySelectorAll('.cd-next, .cd-clock, .cal-link')) el.hidden = started;
  box.querySelector('.cd-live').hidden = !started;
}

function tick() {
  for (const box of document.querySelectorAll('.countdown')) tickOne(box);
}

/** Each programme's feed of episodes, announced in the head for feed readers and browsers. */
function feedLinks() {
  for (const el of document.head.querySelectorAll('link[data-feed]')) el.remove();
  document.head.append(...programmes.map((p) => h('link', { rel: 'alternate', type: 'application/atom+xml',
    title: t('index.feed_title', { programme: p.title }), href: feedHref(p), dataset: { feed: p.slug } })));
}

const feedHref = (p) => `/p/${encodeURIComponent(p.slug)}/episodes.atom`;

function pastItem(s) {
  return h('li', {},
    h('p', { class: 'when' }, date(s.starts_at, tzOf(s))),
    h('div', { class: 'ep-main' },
      h('h4', {}, episodeTitle(s)),
      h('p', { class: 'meta' }, t('index.guest', { guest: guest(s) })),
      h('p', {}, h('a', { href: `/s/${s.id}/replay` }, t('index.replay')), ' · ',
        h('a', { href: `/s/${s.id}/transcript` }, t('index.transcript')))));
}

function render() {
  const box = $('#programmes');
  box.replaceChildren(...programmes.map((p) => {
    const mine = sessions.filter((s) => s.programme_id === p.id);
    const live = mine.filter((s) => s.phase === 'open');
    const upcoming = mine.filter((s) => s.phase === 'upcoming' || s.phase === 'collecting').sort((a, b) => a.starts_at - b.starts_at);
    const past = mine.filter((s) => s.phase === 'closed' || s.phase === 'archived').sort((a, b) => b.starts_at - a.starts_at);
    return h('section', { class: 'programme', attrs: { 'aria-label': p.title } },
      h('h2', {}, p.title),
      p.description ? h('p', { class: 'muted' }, p.description) : null,
      h('p', { class: 'small links' }, h('a', { href: `/p/${encodeURIComponent(p.slug)}/commitments` }, t('index.commitments')),
        h('a', { class: 'feed-link', href: feedHref(p), attrs: { type: 'application/atom+xml' } }, t('index.feed'))),
      live.map(liveCard),
      upcoming.length ? countdownCard(upcoming[0]) : null,
      h('div', { class: 'card' },
        h('h3', { class: 'sub' }, t('index.upcoming')),
        upcoming.length ? h('ul', { class: 'list episodes' }, upcoming.map(upcomingItem)) : h('p', { class: 'empty' }, t('index.no_upcoming')),
        h('h3', { class: 'sub' }, t('index.past')),
        past.length ? h('ul', { class: 'list episodes' }, past.map(pastItem)) : h('p', { class: 'empty' }, t('index.no_past'))));
  }));
  feedLinks();
  if (lastReceipt) showReceipt(lastReceipt);
}

async function load() {
  try {
    const [p, s] = await Promise.all([fetch('/api/programmes'), fetch('/api/sessions')]);
    programmes = (await p.json()).programmes || [];
    const listing = await s.json();
    sessions = listing.sessions || [];
    if (listing.now) offset = listing.now - Date.now();
    $('#loading').hidden = programmes.length > 0;
    $('#loading').textContent = t('index.none');
  } catch {
    $('#loading').textContent = t('error.network');
  }
  render();
}

function showReceipt(r) {
  const box = $('#lookup-result');
  if (r.error) {
    box.replaceChildren(h('p', { class: 'result error' }, r.error));
    return;
  }
  const a = r.answer;
  const extra = [];
  if (r.status === 'rejected') extra.push(t('viewer.reason', { reason: t(`reason.${r.reason || 'other'}`) }));
  if (r.status === 'forwarded') extra.push(t('viewer.forwarded', { dept: r.department || '' }));
  if (r.note) extra.push(r.note);
  if (r.status === 'pending') extra.push(t('viewer.pending_hint'));
  // Carried over (有问必答): where the question went, and what became of it there.
  const later = (r.carried || []).map((c) => h('div', { class: 'result carried' },
    h('p', { class: 'meta' }, t('index.carried_to'), ' ', h('a', { href: `/s/${c.session_id}#q-${c.id}` }, c.session_title || '')),
    h('p', {}, h('span', { class: 'chip', dataset: { status: c.status } }, t(`status.${c.status}`))),
    c.answer ? answerView(c.answer, { tz: r.session_timezone || 'Asia/Shanghai' }) : null));
  box.replaceChildren(h('div', { class: 'result' },
    h('p', { class: 'meta' }, h('a', { href: `/s/${r.session_id}` }, r.session_title || ''), ` · ${t('common.receipt')}${r.receipt}`),
    h('p', { class: 'q-text' }, r.text || ''),
    h('p', {}, h('span', { class: 'chip', dataset: { status: r.status } }, t(`status.${r.status}`)), ' ',
      extra.map((x) => h('span', { class: 'meta' }, x))),
    a ? answerView(a, { tz: r.session_timezone || 'Asia/Shanghai' }) : null,
    r.commitment ? commitmentView(r.commitment, 'Asia/Shanghai', r.overdue) : null,
    later.length ? null : sayFor(r)), ...later,
  // Carried over: rated where the outcome was given, the last episode it reached (same number).
  ...(later.length ? [sayFor({ ...r.carried.at(-1), receipt: r.receipt, session_timezone: r.session_timezone })] : []));
}

/** Rating and follow-up by receipt number and secret, over the same command API as the pages. */
function sayFor(r) {
  if (say?.receipt !== r.receipt) {
    say = new Say({
      secret: true,
      tz: () => r.session_timezone || 'Asia/Shanghai',
      // With the secret, by receipt number; without, as this device (the phone that asked needs none).
      send: (type, fields) => command(r.session_id,
        fields.secret ? { type, receipt: r.receipt, ...fields } : { type, question_id: r.id, ...fields }),
      changed: async () => {
        lastReceipt = await fetchReceipt(r.receipt);
        showReceipt(lastReceipt);
      },
    });
    say.receipt = r.receipt;
  }
  say.update(r);
  return say.el;
}

async function command(sid, body) {
  const r = await fetch(`/api/sessions/${sid}/commands`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const reply = await r.json();
  if (!r.ok) throw reply;
  return reply.result;
}

async function fetchReceipt(value) {
  try {
    const r = await fetch(`/api/receipts/${encodeURIComponent(value)}`);
    const body = await r.json();
    return r.ok ? body : { error: r.status === 404 ? t('index.lookup_missing') : errorText(body) };
  } catch {
    return { error: t('error.network') };
  }
}

/** Bring el into view, below the sticky top bar (html's scroll-padding-top), unless it already is. */
function reveal(el) {
  const box = el.getBoundingClientRect();
  if (box.top >= $('.topbar').getBoundingClientRect().bottom && box.top < window.innerHeight * 0.6) return;
  const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  el.scrollIntoView({ block: 'start', behavior: still ? 'auto' : 'smooth' });
}

/** Look a receipt up; the result is brought into view (on a phone it appears under the fold,
 * and tapping 查询 seemed to do nothing) and said in a few words to screen readers. */
async function lookup(ev) {
  ev.preventDefault();
  const value = $('#receipt-input').value.trim().toUpperCase();
  lastReceipt = value ? await fetchReceipt(value) : { error: t('index.lookup_empty') };
  showReceipt(lastReceipt);
  const r = lastReceipt;
  announce(r.error || `${t('common.receipt')}${r.receipt} ${t(`status.${r.status}`)}`);
  reveal($('#lookup-result'));
}

chrome(render);
$('#lookup-form').addEventListener('submit', lookup);
const fromUrl = new URLSearchParams(location.search).get('receipt');
if (fromUrl) {
  $('#receipt-input').value = fromUrl;
  $('#lookup-form').requestSubmit();
}
load();
setInterval(tick, 1000);
