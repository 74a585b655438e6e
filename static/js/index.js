/**
 * The programme page (/) is rendered by the server (live/pages.py): the programmes with their
 * live, upcoming and past episodes, and the receipt lookup, a plain form (/?receipt=…#lookup)
 * whose result the server renders too. This adds only what needs a script: under a receipt's
 * result, the asker's say (./say.js: rate the outcome once, ask one follow-up).
 */
import { errorText, t } from './i18n.js';
import { Say } from './say.js';
import { h } from './ui.js';

const result = document.querySelector('#lookup-result .result[data-receipt]');
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
  const block = new Say({
    secret: true,
    tz: () => r.session_timezone || 'Asia/Shanghai',
    // With the secret, by receipt number; without, as this device (the phone that asked needs none).
    send: (type, fields) => command(r.session_id,
      fields.secret ? { type, receipt: r.receipt, ...fields } : { type, question_id: r.id, ...fields }),
    changed: async () => {
      try {
        r = await fetchReceipt(receipt);
        block.update(r);
      } catch {
        /* the page still shows what was done; a reload shows the rest */
      }
    },
  });
  block.made = kept(receipt);
  block.update(r);
  result.append(block.el);
  addEventListener('pagehide', () => {
    try {
      if (block.made) sessionStorage.setItem(KEPT, JSON.stringify({ receipt, made: block.made }));
    } catch {
      /* private mode: shown once, as without a switch */
    }
  });
}

if (result) say(result.dataset.receipt);
