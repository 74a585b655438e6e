/**
 * The transcript page (/s/{id}/transcript): the published record (访谈实录) is rendered by the
 * server (live/pages.py, the same template as a static bundle's pages), so it reads with scripts
 * off. This adds what needs a script: the print button, and for staff who open it with their
 * link's #key=, the session's statistics, downloads that include the unanswered approved
 * questions, and those questions on the page: the server renders them too (the same page asked
 * for with ?unanswered=1 and the key), and this moves its list into place, so an entry's markup
 * is defined once, in the template. The key travels only in an Authorization header.
 */
import { errorText, t, time } from './i18n.js';
import { $, chrome, fragmentKey, h, sessionId, speakAnswers } from './ui.js';

const sid = sessionId();
const key = fragmentKey();
const SVG = 'http://www.w3.org/2000/svg';
const tz = document.querySelector('#entries')?.dataset.tz || 'Asia/Shanghai';
let stats = null;

function auth() {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function getJSON(url) {
  const r = await fetch(url, { headers: auth() });
  const body = await r.json();
  if (!r.ok) throw body;
  return body;
}

/** The unanswered questions as the server renders them, or none. */
async function showUnanswered(on) {
  let items = [];
  if (on) {
    const r = await fetch(`/s/${sid}/transcript?unanswered=1`, { headers: auth() });
    const page = new DOMParser().parseFromString(await r.text(), 'text/html');
    if (!r.ok) { // the server's refusal, as its page words it (live/templates/error.html)
      const words = page.querySelector('#error-title')?.textContent || t('error.generic');
      throw { message: { zh: words, en: words } };
    }
    items = [...page.querySelectorAll('#unanswered-list > li')].map((li) => document.importNode(li, true));
  }
  $('#unanswered-list').replaceChildren(...items);
  $('#unanswered-title').hidden = items.length === 0;
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
    ? t('stats.peak_at', { n: stats.peak_viewers, time: time(stats.peak_at, tz) }) : t('stats.no_viewers');
  const v = stats.viewers;
  $('#chart-box').replaceChildren(chart(v), v.length ? h('p', { class: 'chart-axis meta' },
    h('span', {}, time(v[0].at, tz)), h('span', {}, time(v[v.length - 1].at, tz))) : '');
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
      await showUnanswered(e.target.checked);
    } catch (err) {
      e.target.checked = false;
      $('#stats-error').textContent = errorText(err);
    }
  });
  try {
    stats = await getJSON(`/api/sessions/${sid}/stats`);
    renderStats();
  } catch (err) {
    $('#stats-error').textContent = errorText(err);
  }
}

function main() {
  chrome();
  speakAnswers($('main'), '.reply:not(.answer-oral), .answer-text:not(.answer-oral)'); // 朗读 under every answer
  $('#print').hidden = false;
  $('#print').addEventListener('click', () => window.print());
  if (key) loadStaff();
}

main();
