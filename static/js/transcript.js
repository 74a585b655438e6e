/**
 * The transcript page (/s/{id}/transcript): the published record (访谈实录), printable.
 *
 * The server decides what is published (GET /api/sessions/{id}/transcript) and this page only
 * lays it out, with textContent throughout. Staff who open it with their link's #key= also get
 * the unanswered approved questions on request, downloads that include them, and the session's
 * statistics; the key travels only in an Authorization header, never in a URL.
 */
import { errorText, t, time, windowText } from './i18n.js';
import { satisfactionText } from './say.js';
import { renderOutcomes } from './outcomes.js';
import { $, brand, channelTag, chrome, episodeLabel, fragmentKey, h, sessionId } from './ui.js';

const sid = sessionId();
const key = fragmentKey();
const SVG = 'http://www.w3.org/2000/svg';
let doc = null;
let stats = null;

function auth() {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function getJSON(url, staff = false) {
  const r = await fetch(url, { headers: staff ? auth() : {} });
  const body = await r.json();
  if (!r.ok) throw body;
  return body;
}

function tz() {
  return doc?.session.timezone || 'Asia/Shanghai';
}

function entry(item) {
  const a = item.answer;
  const mode = a?.mode || 'text';
  const oral = a && !a.text; // answered on air only: the record says so, with the time, as its reply
  return h('li', { class: a ? 'entry' : 'entry unanswered', id: `q${item.id}` },
    h('h3', {}, t('transcript.asked', { n: item.n, name: item.name || '', time: time(item.asked_at, tz()) }), channelTag(item)),
    h('p', { class: 'ask' }, item.question),
    a ? h('p', {}, h('span', { class: 'who' }, t('transcript.answered', { name: a.by || doc.session.guest_name || '', time: time(item.answered_at || a.at, tz()) })),
      mode !== 'text' && !oral ? h('span', { class: 'meta' }, ` ${t(`transcript.mode_${mode}`)}`) : null) : h('p', { class: 'who' }, t('transcript.not_answered')),
    a && a.text ? h('p', { class: 'reply' }, a.text) : null,
    oral ? h('p', { class: 'reply answer-oral' }, t('answer.oral', { time: time(a.at, tz()) })) : null,
    h('p', { class: 'meta no-print' }, h('a', { href: `/s/${sid}/replay#q${item.id}` }, t('transcript.in_replay'))));
}

/** The run of lines (访谈实录, doc.lines: live/archive.py), shown when the record has the host's
 * lines or photos: who says it ([主持人], [嘉宾], [网友 …], [图片]) and when, then what. */
function studio() {
  return doc.lines.some((l) => l.role === 'host' || l.role === 'photo');
}

function whenSaid(l) {
  const at = l.kind === 'question' ? t('post.asked_when', { time: time(l.asked_at, tz()) }) : time(l.at, tz());
  return l.n != null && l.kind !== 'answer' ? `${at} · ${t('post.item_n', { n: l.n })}` : at;
}

function line(l) {
  const speaker = l.role === 'citizen' ? t('post.citizen', { name: [l.name, l.channel ? t(`channel.${l.channel}`) : '']
    .filter(Boolean).join(' · ') }) : t(`post.${l.role === 'host' ? 'host' : l.role}`);
  const who = h('span', { class: 'who' }, t('transcript.line_who', { who: speaker, time: whenSaid(l) }));
  if (l.kind === 'photo') {
    return h('li', { class: 'line photo', dataset: { role: 'photo' } }, h('figure', { class: 'photo' },
      h('img', { src: l.url, width: l.width, height: l.height, alt: l.caption || speaker, loading: 'lazy' }),
      h('figcaption', {}, who, l.caption)));
  }
  const a = l.answer;
  let text = l.text;
  if (l.kind === 'announce') text = `${t('post.announce', { name: l.name || '' })}${l.question}`;
  if (l.kind === 'question') text = l.question;
  return h('li', { class: 'line', dataset: { role: l.role }, id: l.kind === 'answer' ? null : `q${l.id}` },
    h('p', {}, who, a && a.mode !== 'text' && a.text ? h('span', { class: 'meta' }, ` ${t(`transcript.mode_${a.mode}`)}`) : null),
    a ? (a.text ? h('p', { class: 'reply' }, a.text) : h('p', { class: 'reply answer-oral' }, t('answer.oral', { time: time(a.at, tz()) })))
      : h('p', { class: 'ask' }, text),
    a ? h('p', { class: 'meta no-print' }, h('a', { href: `/s/${sid}/replay#q${l.id}` }, t('transcript.in_replay'))) : null);
}

function render() {
  if (!doc) return;
  const s = doc.session;
  document.title = `${s.title || ''} · ${t('transcript.badge')}`;
  brand(s.programme.title);
  $('#episode').textContent = episodeLabel(s);
  $('#title').textContent = s.title || '';
  $('#m-programme').textContent = s.programme.title || '';
  $('#m-guest').textContent = [s.guest_name, s.guest_post].filter(Boolean).join(' · ');
  $('#m-time').textContent = s.starts_at ? windowText(s.starts_at, s.ends_at, tz()) : '';
  $('#description').textContent = s.description || '';
  $('#summary').textContent = t('transcript.summary', { n: doc.answered });
  $('#chain').hidden = !doc.chain?.head;
  $('#chain-head').textContent = doc.chain?.head || '';
  $('#chain-seq').textContent = doc.chain?.head ? t('transcript.chain_seq', { n: doc.chain.seq }) : '';
  $('#satisfaction').textContent = satisfactionText(doc.satisfaction);
  const answered = doc.items.filter((i) => i.answer);
  const waiting = doc.items.filter((i) => !i.answer);
  $('#entries').replaceChildren(...(studio() ? doc.lines.map(line) : answered.map(entry)));
  $('#entries').classList.toggle('record', studio());
  $('#entries-empty').hidden = answered.length > 0 || studio();
  $('#unanswered-title').hidden = waiting.length === 0;
  $('#unanswered-list').replaceChildren(...waiting.map(entry));
  renderOutcomes($('#outcomes-body'), doc.outcomes.questions, doc.outcomes.counts,
    { tz: tz(), guest: s.guest_name, post: s.guest_post });
  renderStats();
}

function tile(label, value) {
  return h('div', { class: 'stat' }, h('b', {}, String(value)), label);
}

function chart(series) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 100 40');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', t('stats.chart_label', { n: series.length }));
  if (series.length) {
    const t0 = series[0].at;
    const span = Math.max(1, series[series.length - 1].at - t0);
    const top = Math.max(1, ...series.map((p) => p.viewers));
    const y = (p) => 40 - (p.viewers / top) * 36;
    const pts = series.length === 1 ? [`0,${y(series[0])}`, `100,${y(series[0])}`]
      : series.map((p) => `${((p.at - t0) / span) * 100},${y(p)}`);
    const area = document.createElementNS(SVG, 'polygon');
    area.setAttribute('class', 'area');
    area.setAttribute('points', `0,40 ${pts.join(' ')} 100,40`);
    svg.append(area);
  }
  return svg;
}

function renderStats() {
  if (!stats) return;
  const q = stats.questions;
  $('#stats-grid').replaceChildren(
    tile(t('stats.asked'), q.asked), tile(t('stats.approved'), q.approved),
    tile(t('stats.answered'), q.answered), tile(t('stats.rejected'), q.rejected),
    tile(t('stats.votes'), stats.votes), tile(t('stats.peak'), stats.peak_viewers));
  const channels = Object.entries(stats.channels || {}).filter(([, n]) => n);
  $('#stats-channels').textContent = channels.length ? t('stats.channels', {
    list: channels.map(([c, n]) => `${t(`channel.${c}`)} ${n}`).join(t('common.list_sep')) }) : '';
  $('#peak').textContent = stats.peak_at
    ? t('stats.peak_at', { n: stats.peak_viewers, time: time(stats.peak_at, tz()) }) : t('stats.no_viewers');
  const v = stats.viewers;
  $('#chart-box').replaceChildren(chart(v), v.length ? h('p', { class: 'chart-axis meta' },
    h('span', {}, time(v[0].at, tz())), h('span', {}, time(v[v.length - 1].at, tz()))) : '');
}

/** A download that needs the staff key: fetched with the header, saved from a blob. */
async function staffDownload(url, fallback) {
  try {
    const r = await fetch(url, { headers: auth() });
    if (!r.ok) throw await r.json();
    const cd = r.headers.get('content-disposition') || '';
    const m = cd.match(/filename\*=UTF-8''([^;]+)/);
    const a = h('a', { href: URL.createObjectURL(await r.blob()), download: m ? decodeURIComponent(m[1]) : fallback });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) {
    $('#stats-error').textContent = errorText(err);
  }
}

function transcriptUrl(format) {
  const unanswered = $('#unanswered').checked ? '&unanswered=1' : '';
  return `/api/sessions/${sid}/transcript?format=${format}${unanswered}`;
}

async function loadStaff() {
  $('#staff').hidden = false;
  for (const f of ['md', 'csv', 'json']) {
    $(`#staff-${f}`).addEventListener('click', () => staffDownload(transcriptUrl(f), `transcript.${f}`));
  }
  $('#stats-csv').addEventListener('click', () => staffDownload(`/api/sessions/${sid}/stats?format=csv`, 'stats.csv'));
  $('#unanswered').addEventListener('change', async (e) => {
    try {
      doc = await getJSON(e.target.checked ? `/api/sessions/${sid}/transcript?unanswered=1` : `/api/sessions/${sid}/transcript`, true);
      render();
    } catch (err) {
      e.target.checked = false;
      $('#stats-error').textContent = errorText(err);
    }
  });
  try {
    stats = await getJSON(`/api/sessions/${sid}/stats`, true);
    renderStats();
  } catch (err) {
    $('#stats-error').textContent = errorText(err);
  }
}

async function main() {
  chrome(render);
  $('#print').addEventListener('click', () => window.print());
  for (const f of ['md', 'csv', 'json']) $(`#dl-${f}`).href = `/api/sessions/${sid}/transcript?format=${f}`;
  $('#dl-chain').href = `/api/sessions/${sid}/chain`;
  $('#replay-link').href = `/s/${sid}/replay`;
  try {
    doc = await getJSON(`/api/sessions/${sid}/transcript`);
  } catch (err) {
    $('#load-error').textContent = errorText(err);
    return;
  }
  render();
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target) target.scrollIntoView({ block: 'center' });
  if (key) loadStaff();
}

main();
