/**
 * The big screen (/s/{id}/screen): the question being answered now, in very large type, for the
 * studio monitor or as a browser source over the live video (?transparent=1 clears the
 * background). The QR code is drawn by the server with a QR library and points at the viewer
 * page; the short link beside it is for people who would rather type.
 */
import { countdown, setLang, t, windowText } from './i18n.js';
import { Live } from './live.js';
import { Session } from './model.js';
import { $, channelTag, chrome, episodeTitle, indicator, sessionId } from './ui.js';

const sid = sessionId();
const model = new Session();
const params = new URLSearchParams(location.search);
let ready = false;

const live = new Live(sid, { handlers: {
  snapshot(f) {
    model.load(f);
    ready = true;
    render();
  },
  event(e) {
    model.apply(e);
    if (ready) render();
  },
} });

/** Longer questions get a smaller (still very large) size so they fit without scrolling. */
function sizeClass(text) {
  const n = Array.from(text).length;
  return n <= 30 ? 'len-s' : n <= 80 ? 'len-m' : n <= 160 ? 'len-l' : 'len-xl';
}

function render() {
  if (!ready) return;
  const i = model.info;
  const tz = i.timezone || 'Asia/Shanghai';
  document.title = `${t('screen.doc_title')} - ${i.title || ''}`;
  $('#title').textContent = episodeTitle(i);
  $('#guest').textContent = [i.guest_name, i.guest_post].filter(Boolean).join(' ');
  const q = model.answering == null ? null : model.questions.get(model.answering);
  const showing = !!(q && q.text);
  $('#current').hidden = !showing;
  $('#idle').hidden = showing;
  if (showing) {
    const text = $('#current-text');
    text.textContent = q.text;
    text.className = `current-text ${sizeClass(q.text)}`;
    $('#current-name').replaceChildren(t('screen.asked_by', { name: q.name || '' }), channelTag(q));
  }
  const phase = model.phase(live.now());
  $('#idle-title').textContent = t(`screen.idle_${phase}`);
  $('#idle-sub').textContent = phase === 'upcoming' || phase === 'collecting'
    ? `${windowText(i.starts_at, i.ends_at, tz)} · ${countdown(i.starts_at - live.now())}` : t(`screen.idle_${phase}_sub`);
}

async function setup() {
  if (params.get('transparent') === '1') document.documentElement.classList.add('transparent');
  if (params.get('lang')) await setLang(params.get('lang'));
  const link = `${location.host}/s/${sid}`;
  $('#join-link').textContent = link;
  $('#qr').src = `/s/${sid}/qr.svg`;
  $('#qr').alt = t('screen.qr_alt', { link });
  chrome(render);
  indicator($('#conn'), live);
  setInterval(render, 1000);
  live.start();
}

setup();
