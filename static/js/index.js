/**
 * The programme page (/) is rendered by the server (live/pages.py): the programmes with their
 * live, upcoming and past episodes, the countdown to each programme's next one (预约, with its
 * calendar file and the programme's feed), and the receipt lookup, a plain form
 * (/?receipt=…#lookup) whose result the server renders too. This adds only what needs a
 * script: the countdown kept to the second by the server's clock (a link to the live page once
 * it starts), and under a receipt's result the asker's say (./say.js: rate the outcome once,
 * ask one follow-up).
 */
import { countdown, errorText, t } from './i18n.js';
import { Say } from './say.js';
import { $, announce, chrome, h } from './ui.js';

const result = document.querySelector('#lookup-result .result[data-receipt]');
const offset = Number($('#programmes')?.dataset.now || Date.now()) - Date.now(); // the server's clock less this device's
const now = () => Date.now() + offset;

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
const KEPT = 'live.say.made';

/** The follow-up just made shows its receipt number and secret once (say.js); switching the
 * language asks the server for the page again, so this tab keeps them for the page that returns. */
function kept(receipt) {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEPT) || 'null');
    return v && v.receipt === receipt ? v.made : null;
  } catch {
    return null;
  }
}

async function fetchReceipt(receipt) {
  const r = await fetch(`/api/receipts/${encodeURIComponent(receipt)}`);
  const body = await r.json();
  if (!r.ok) throw body;
  return body;
}

async function command(sid, body) {
  const r = await fetch(`/api/sessions/${sid}/commands`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const reply = await r.json();
  if (!r.ok) throw reply;
  return reply.result;
}

/** Rating and follow-up by receipt number and secret, over the same command API as the pages. */
async function say(receipt) {
  let r;
  try {
    r = await fetchReceipt(receipt);
  } catch (err) {
    result.append(h('p', { class: 'error' }, err.code ? errorText(err) : t('error.network')));
    return;
  }
  // Carried over (有问必答): rated where the outcome was given, the last episode it reached
  // (under the same receipt number), so the block goes under that episode's result.
  const rated = (x) => (x.carried?.length ? { ...x.carried.at(-1), receipt: x.receipt, session_timezone: x.session_timezone } : x);
  const block = new Say({
    secret: true,
    tz: () => r.session_timezone || 'Asia/Shanghai',
    // With the secret, by receipt number; without, as this device (the phone that asked needs none).
    send: (type, fields) => command(rated(r).session_id,
      fields.secret ? { type, receipt: r.receipt, ...fields } : { type, question_id: rated(r).id, ...fields }),
    changed: async () => {
      try {
        r = await fetchReceipt(receipt);
        block.update(rated(r));
      } catch {
        /* the page still shows what was done; a reload shows the rest */
      }
    },
  });
  block.made = kept(receipt);
  block.update(rated(r));
  (r.carried?.length ? $('#lookup-result') : result).append(block.el);
  addEventListener('pagehide', () => {
    try {
      if (block.made) sessionStorage.setItem(KEPT, JSON.stringify({ receipt, made: block.made }));
    } catch {
      /* private mode: shown once, as without a switch */
    }
  });
}

chrome();
if (result) say(result.dataset.receipt);
// A lookup just made: its result, in a few words, for screen readers (the page came back with it).
const looked = result || $('#lookup-result .error');
if (looked) announce(result ? `${t('common.receipt')}${result.dataset.receipt} ${$('.chip', result).textContent}` : looked.textContent);
setInterval(tick, 1000);
