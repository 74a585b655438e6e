/**
 * Search and archive (/search): every answered question of every episode, and the past
 * episodes of each programme, newest first.
 *
 * The query lives in the URL (?q=&programme_id=), so a search can be shared and the back
 * button works. Matches are highlighted by splitting text into text nodes and <mark>s, never
 * by writing HTML.
 */
import { date, errorText, t, time } from './i18n.js';
import { $, chrome, episodeTitle, h, safeLink } from './ui.js';

let programmes = [];
let last = null;

function terms(q) {
  return [...new Set(q.split(/[\s,.;:!?，。；：！？、"'“”‘’()（）《》【】]+/).filter(Boolean))];
}

/** text with every occurrence of any term wrapped in <mark> (case-insensitive). */
function highlight(text, words) {
  const out = [];
  const lower = text.toLowerCase();
  let i = 0;
  while (i < text.length) {
    let best = null;
    for (const w of words) {
      const at = lower.indexOf(w.toLowerCase(), i);
      if (at >= 0 && (!best || at < best.at || (at === best.at && w.length > best.len))) best = { at, len: w.length };
    }
    if (!best) break;
    if (best.at > i) out.push(text.slice(i, best.at));
    out.push(h('mark', {}, text.slice(best.at, best.at + best.len)));
    i = best.at + best.len;
  }
  if (i < text.length) out.push(text.slice(i));
  return out;
}

function clip(text, words, size = 160) {
  if (text.length <= size) return text;
  const lower = text.toLowerCase();
  const hits = words.map((w) => lower.indexOf(w.toLowerCase())).filter((x) => x >= 0);
  const start = Math.max(0, Math.min(...hits, text.length) - 40);
  return `${start ? '…' : ''}${text.slice(start, start + size)}${start + size < text.length ? '…' : ''}`;
}

function renderResults() {
  if (!last) return;
  const words = terms(last.q);
  $('#result-count').textContent = t('search.count', { n: last.results.length, q: last.q });
  $('#results').replaceChildren(...last.results.map((r) => h('li', { class: 'result' },
    h('a', { class: 'q-link', href: safeLink(r.link) || `/s/${r.session_id}/replay` }, ...highlight(r.question, words)),
    r.answer ? h('p', { class: 'answer-text' }, ...highlight(clip(r.answer, words), words))
      : h('p', { class: 'answer-text answer-oral' }, t('answer.oral', { time: time(r.at, r.timezone) })), // no text: said on air
    h('p', { class: 'meta' }, [episodeTitle(r), r.name,
      r.at ? `${date(r.at, r.timezone)} ${time(r.at, r.timezone)}` : ''].filter(Boolean).join(' · ')))));
}

async function run(q, programme) {
  $('#search-error').textContent = '';
  if (!q) {
    last = null;
    $('#results').replaceChildren();
    $('#result-count').textContent = '';
    return;
  }
  const params = new URLSearchParams({ q });
  if (programme) params.set('programme_id', programme);
  try {
    const r = await fetch(`/api/search?${params}`);
    const body = await r.json();
    if (!r.ok) throw body;
    last = { q, results: body.results };
    renderResults();
  } catch (err) {
    $('#search-error').textContent = errorText(err);
  }
}

function renderArchive() {
  const shown = programmes.filter((p) => p.sessions.length);
  $('#archive-empty').hidden = shown.length > 0;
  $('#archive').replaceChildren(...shown.map((p) => h('section', {},
    h('h3', {}, p.title),
    h('ul', { class: 'episodes' }, ...p.sessions.map((s) => h('li', {},
      h('span', { class: 'ep-title' }, episodeTitle(s)),
      h('span', { class: 'meta' }, s.starts_at ? date(s.starts_at, s.timezone) : ''),
      h('span', { class: 'meta' }, t('archive.answered', { n: s.answered })),
      h('a', { href: s.links.replay }, t('archive.replay')),
      h('a', { href: s.links.transcript }, t('archive.transcript'))))))));
  const select = $('#programme');
  const current = select.value || new URLSearchParams(location.search).get('programme_id') || '';
  select.replaceChildren(h('option', { value: '' }, t('search.all_programmes')),
    ...programmes.map((p) => h('option', { value: String(p.id) }, p.title)));
  select.value = current;
}

async function loadArchive() {
  try {
    const r = await fetch('/api/archive');
    programmes = (await r.json()).programmes || [];
    renderArchive();
  } catch {
    $('#archive-empty').hidden = false;
  }
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  const q = params.get('q') || '';
  $('#q').value = q;
  run(q.trim(), params.get('programme_id') || '');
}

function main() {
  chrome(() => {
    renderArchive();
    renderResults();
  });
  $('#search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('#q').value.trim();
    const programme = $('#programme').value;
    const params = new URLSearchParams();
    if (q) params.set('q', q);
    if (programme) params.set('programme_id', programme);
    history.pushState(null, '', `/search${params.size ? `?${params}` : ''}`);
    run(q, programme);
  });
  window.addEventListener('popstate', fromUrl);
  loadArchive();
  fromUrl();
}

main();
