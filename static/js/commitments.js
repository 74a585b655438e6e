/**
 * The commitment board (/p/{slug}/commitments): every promise a programme's episodes made,
 * with its department, due day, progress and whether it is overdue, by the server's clock.
 *
 * One read of GET /api/commitments?programme={slug}; the server decides what is overdue and
 * as of when (`now`), so every reader sees the same verdict whatever their device's clock.
 * Each entry links to the replay at the moment the promise was said, and has an anchor
 * (#s{session}-q{question}) that the Atom feed's entries name. Filters by status stay in the
 * URL (?show=overdue) so a filtered board can be shared.
 */
import { dateTime, errorText, t } from './i18n.js';
import { commitmentView } from './commitment.js';
import { $, brand, chrome, episodeTitle, h, safeLink } from './ui.js';

const slug = decodeURIComponent((location.pathname.match(/^\/p\/([^/]+)\/commitments/) || [])[1] || '');
const FILTERS = ['total', 'overdue', 'in_progress', 'postponed', 'done'];
let board = null;
let show = new URLSearchParams(location.search).get('show') || 'total';

function matches(e) {
  const status = e.question.commitment.status;
  if (show === 'overdue') return e.overdue;
  return show === 'total' || status === show;
}

function entry(e) {
  const q = e.question;
  const tz = e.session.timezone || 'Asia/Shanghai';
  return h('li', { id: `s${e.session_id}-q${q.id}`, dataset: { session: e.session_id, question: q.id } },
    h('p', { class: 'meta b-episode' }, episodeTitle(e.session)),
    q.text ? h('p', { class: 'b-question' }, t('board.question', { name: q.name || '', text: q.text })) : null,
    commitmentView(q.commitment, tz, e.overdue),
    h('p', { class: 'meta' }, t('board.said_at', { time: dateTime(q.commitment.said_at, tz) })),
    h('p', { class: 'b-links' },
      h('a', { class: 'btn small replay-link', href: safeLink(e.links.replay) }, t('board.replay')),
      h('a', { class: 'btn small', href: safeLink(e.links.session) }, t('board.session'))));
}

function render() {
  if (!board) return;
  const p = board.programme;
  document.title = `${t('board.title')} - ${p.title}`;
  brand(p.title);
  const tz = board.commitments[0]?.session.timezone || 'Asia/Shanghai';
  $('#as-of').textContent = t('board.as_of', { time: dateTime(board.now, tz) });
  $('#counts').replaceChildren(...FILTERS.map((f) => h('button', {
    type: 'button', dataset: { filter: f }, attrs: { 'aria-pressed': String(show === f) },
    on: { click: () => filter(f) },
  }, h('span', { class: 'n' }, String(board.counts[f])), h('span', { class: 'l' }, t(`board.count_${f}`)))));
  const items = board.commitments.filter(matches);
  $('#board-list').replaceChildren(...items.map(entry));
  $('#board-empty').hidden = items.length > 0;
  $('#board-empty').textContent = t(board.commitments.length ? 'board.none_shown' : 'board.empty');
}

function filter(f) {
  show = f;
  const url = new URL(location.href);
  if (f === 'total') url.searchParams.delete('show');
  else url.searchParams.set('show', f);
  history.replaceState(null, '', url);
  render();
}

async function load() {
  try {
    const r = await fetch(`/api/commitments?programme=${encodeURIComponent(slug)}`);
    const body = await r.json();
    if (!r.ok) throw body;
    board = body;
  } catch (err) {
    $('#load-error').textContent = errorText(err);
  }
  $('#loading').hidden = true;
  render();
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target) target.scrollIntoView({ block: 'center' });
}

chrome(render);
if (!FILTERS.includes(show)) show = 'total';
load();
