/**
 * The big screen (/s/{id}/screen): the question being answered now, in very large type, for the
 * studio monitor or as a browser source over the live video (?transparent=1 clears the
 * background). Once it is answered, the answer stays beside it (its text, or that it was
 * answered orally on air, with the time) until the next question is taken up or the presenter
 * stops. The host's latest line (a remark, or the next question read out: live/studio.py) takes
 * the screen until a question is taken up or answered. The QR code is drawn by the server with a QR library and points at the viewer page
 * (sized for a phone at the back of the room); the short link beside it is for people who would
 * rather type. After the window it invites people to the outcomes, not to ask.
 */
import { countdown, setLang, t, time, windowText } from './i18n.js';
import { Live } from './live.js';
import { ENDED, Session } from './model.js';
import { $, channelTag, chrome, episodeTitle, indicator, sessionId } from './ui.js';

const sid = sessionId();
const model = new Session();
const params = new URLSearchParams(location.search);
let ready = false;
let shown = null; // the question on screen: the one being answered, then the one just answered
let hostLine = null; // the host's post on screen instead, until a question is taken up or answered

/** On a fresh load, the question being answered, else the last answer given. */
function latest() {
  if (model.answering != null) return model.answering;
  const answered = model.list('answered', 'answered');
  return answered.length ? answered[0].id : null;
}

/** On a fresh load, the host's last line if nothing was answered or taken up since. */
function latestLine() {
  const last = [...model.posts.values()].filter((p) => p.kind !== 'photo').pop();
  const q = shown == null ? null : model.questions.get(shown);
  return last && model.answering == null && last.at > (q?.answer?.at || 0) ? last.id : null;
}

const live = new Live(sid, { handlers: {
  snapshot(f) {
    model.load(f);
    shown = latest();
    hostLine = latestLine();
    ready = true;
    render();
  },
  event(e) {
    const q = model.apply(e);
    if (e.type === 'host.remarked' || e.type === 'host.announced') hostLine = e.data.post.id;
    else if (e.type === 'question.answering') [shown, hostLine] = [model.answering, null];
    // An answer goes on screen unless another question is being answered meanwhile.
    else if (e.type === 'question.answered' && q && (model.answering == null || model.answering === q.id)) {
      [shown, hostLine] = [q.id, null];
    }
    if (ready) render();
  },
} });

/** Longer texts get a smaller (still very large) size so they fit without scrolling. */
function sizeClass(text) {
  const n = Array.from(text).length;
  return n <= 30 ? 'len-s' : n <= 80 ? 'len-m' : n <= 160 ? 'len-l' : 'len-xl';
}

function renderAnswer(q, tz) {
  const a = q.status === 'answered' ? q.answer : null;
  $('#current-answer').hidden = !a;
  $('#current').classList.toggle('answered', !!a);
  $('#current-label').textContent = t(a ? 'status.answered' : 'screen.answering');
  if (!a) return;
  const who = { name: a.by || model.info.guest_name || '', post: model.info.guest_post || '' };
  $('#current-by').textContent = (a.text ? t('answer.by_text', who) : `${who.name} ${who.post}`).trim();
  const reply = $('#current-reply');
  reply.textContent = a.text || t('answer.oral', { time: time(a.at, tz) });
  reply.className = `current-reply ${a.text ? sizeClass(a.text) : 'len-m'}`;
}

function render() {
  if (!ready) return;
  const i = model.info;
  const tz = i.timezone || 'Asia/Shanghai';
  document.title = `${t('screen.doc_title')} - ${i.title || ''}`;
  $('#title').textContent = episodeTitle(i);
  $('#guest').textContent = [i.guest_name, i.guest_post].filter(Boolean).join(' ');
  const phase = model.phase(live.now());
  const ended = ENDED.has(phase);
  const q = shown == null ? null : model.questions.get(shown);
  // Over the video (?transparent=1) only while it is being answered: the official says the rest.
  const done = q?.status === 'answered' && params.get('transparent') !== '1';
  const line = hostLine == null || ended ? null : model.posts.get(hostLine);
  const read = line?.kind === 'announce' ? model.questions.get(line.question_id) : null;
  const hosting = !!line && (line.kind === 'remark' || !!read?.text);
  const showing = hosting || !!(q && q.text && !ended && (q.id === model.answering || done));
  $('#current').hidden = !showing;
  $('#idle').hidden = showing;
  $('#current').classList.toggle('host', hosting);
  if (hosting) {
    const text = line.kind === 'remark' ? line.text : read.text;
    $('#current-label').textContent = t(line.kind === 'remark' ? 'screen.host' : 'screen.next');
    $('#current-text').textContent = text;
    $('#current-text').className = `current-text ${sizeClass(text)}`;
    $('#current-name').replaceChildren(read ? t('screen.asked_by', { name: read.name || '' }) : '', channelTag(read));
    $('#current-answer').hidden = true;
    $('#current').classList.remove('answered');
  } else if (showing) {
    const text = $('#current-text');
    text.textContent = q.text;
    text.className = `current-text ${sizeClass(q.text)}`;
    $('#current-name').replaceChildren(t('screen.asked_by', { name: q.name || '' }), channelTag(q));
    renderAnswer(q, tz);
  }
  $('#join-title').textContent = t(ended ? 'screen.join_closed' : 'screen.join');
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
