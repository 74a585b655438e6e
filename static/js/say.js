/**
 * The asker's say (live/ratings.py): rate what became of a question once (满意 / 基本满意 /
 * 不满意, with an optional comment) and ask one follow-up (追问) into the next episode.
 *
 * One block, used where the asker sees their own question: 我的问题 on the viewer page (the
 * device that asked) and the receipt lookup on / (the receipt number and the secret, 查询码,
 * shown once when the question was asked). The server decides who may and until when; this
 * only offers what the question's view says is still open, and shows the server's refusal
 * otherwise. update() rebuilds the block only when what it offers changes, so a comment being
 * typed survives the live events that re-render the page around it.
 */
import { dateTime, errorText, lang, t } from './i18n.js';
import { h, stylesheet } from './ui.js';

export const LEVELS = ['satisfied', 'basically_satisfied', 'dissatisfied'];
const FINAL = new Set(['answered', 'rejected', 'forwarded', 'merged']);
let blocks = 0;
stylesheet('say.css'); // with the script, when first needed

/** A session's or programme's satisfaction tally (live/satisfaction.py) in words. */
export function satisfactionText(s) {
  if (!s || !s.rated) return t('say.none_rated');
  const parts = LEVELS.map((l) => t('say.level_share', { level: t(`say.${l}`), n: s.counts[l], p: s.percent[l] }));
  return t('say.summary', { n: s.rated, parts: parts.join(t('common.list_sep')), p: s.satisfied });
}

export class Say {
  /**
   * send(type, fields) makes the request and resolves with the ack's result; now() is the
   * server's clock; tz() the session's timezone; with secret, the block asks for the 查询码
   * and sends it; changed() runs after a success, to fetch the asker's view again.
   */
  constructor({ send, now = () => Date.now(), tz = () => 'Asia/Shanghai', secret = false, changed = () => {} }) {
    Object.assign(this, { send, now, tz, changed });
    this.n = ++blocks;
    this.el = h('div', { class: 'say' });
    this.key = null;
    this.made = null; // the follow-up just made: its receipt and secret are shown this once
    // Kept across rebuilds, so a secret typed once serves the rating and the follow-up.
    this.secretInput = secret ? h('input', { id: `say-secret-${this.n}`, autocomplete: 'off', maxLength: 20,
      attrs: { autocapitalize: 'characters', spellcheck: 'false' } }) : null;
  }

  update(q) {
    const open = FINAL.has(q.status) && q.rating_until != null && this.now() <= q.rating_until;
    const key = JSON.stringify([lang, q.id, q.status, open, q.rating || q.rated || null, q.follow_up || null,
      this.made]);
    if (key === this.key) return;
    this.key = key;
    this.el.replaceChildren(...(FINAL.has(q.status) ? this.build(q, open) : []));
  }

  build(q, open) {
    const out = [];
    const offers = !(q.rating || q.rated) || !(q.follow_up || this.made);
    if (open && this.secretInput && offers) {
      out.push(h('label', { htmlFor: this.secretInput.id }, t('say.secret_label')), this.secretInput,
        h('p', { class: 'meta' }, t('say.secret_hint')));
    }
    out.push(this.rating(q, open), this.followUp(q, open));
    if (open && offers) out.push(h('p', { class: 'meta' }, t('say.until', { time: dateTime(q.rating_until, this.tz()) })));
    return out;
  }

  rating(q, open) {
    if (q.rating) {
      return h('p', { class: 'say-done' }, t('say.rated', { level: t(`say.${q.rating.level}`) }),
        q.rating.comment ? h('span', { class: 'say-comment' }, q.rating.comment) : null);
    }
    if (q.rated) return h('p', { class: 'say-done' }, t('say.rated_already'));
    if (!open) return h('p', { class: 'meta' }, t('say.closed'));
    const name = `say-level-${this.n}`;
    const comment = h('textarea', { id: `say-comment-${this.n}`, rows: 2, maxLength: 500 });
    const error = h('p', { class: 'error', attrs: { role: 'alert' } });
    const button = h('button', { class: 'btn small primary', type: 'submit' }, t('say.rate_submit'));
    const form = h('form', { class: 'say-form', noValidate: true },
      h('fieldset', {}, h('legend', {}, t('say.rate_title')),
        h('div', { class: 'levels' }, LEVELS.map((level) => h('label', { class: 'level' },
          h('input', { type: 'radio', name, value: level }), t(`say.${level}`))))),
      h('label', { htmlFor: comment.id }, t('say.comment_label'), ' ', h('span', { class: 'opt' }, t('common.optional'))),
      comment, error, button);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const level = form.querySelector('input[type=radio]:checked')?.value;
      error.textContent = level ? '' : t('say.pick_level');
      if (!level) return;
      if (await this.submit(button, error, 'rate', { level, comment: comment.value.trim() })) this.changed();
    });
    return form;
  }

  followUp(q, open) {
    if (this.made) {
      const m = this.made;
      return h('div', { class: 'say-made', attrs: { role: 'status' } },
        h('p', { class: 'done-title' }, t('say.followed_up_now', { title: m.session_title || '' })),
        h('p', { class: 'receipt' }, t('common.receipt'), h('strong', {}, m.receipt)),
        m.secret ? h('p', { class: 'receipt' }, t('say.secret'), h('strong', {}, m.secret)) : null,
        m.secret ? h('p', { class: 'meta' }, t('say.secret_save')) : null);
    }
    if (q.follow_up) {
      return h('p', { class: 'say-done' }, h('a', { href: `/s/${q.follow_up.session_id}` }, t('say.followed_up')));
    }
    if (!open) return null;
    const text = h('textarea', { id: `say-text-${this.n}`, rows: 3, maxLength: 500 });
    const error = h('p', { class: 'error', attrs: { role: 'alert' } });
    const button = h('button', { class: 'btn small', type: 'submit' }, t('say.follow_up_submit'));
    const form = h('form', { class: 'say-form', noValidate: true },
      h('label', { htmlFor: text.id }, t('say.follow_up_label')), text,
      h('p', { class: 'meta' }, t('say.follow_up_hint')), error, button);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const value = text.value.trim();
      error.textContent = value ? '' : t('viewer.err_empty');
      if (!value) return;
      const r = await this.submit(button, error, 'follow_up', { text: value });
      if (r) {
        this.made = r.follow_up;
        this.changed();
      }
    });
    return h('details', { class: 'say-follow' }, h('summary', {}, t('say.follow_up_title')), form);
  }

  /** Send one request; on a refusal show the server's words beside the button. Without a
   * secret the request is the device's own: on the phone that asked, none is needed. */
  async submit(button, error, type, fields) {
    const secret = this.secretInput?.value.trim();
    button.disabled = true;
    try {
      return await this.send(type, secret ? { ...fields, secret } : fields);
    } catch (err) {
      const needed = this.secretInput && !secret && err.code === 'not_asker';
      error.textContent = needed ? t('say.secret_missing') : errorText(err);
      if (needed) this.secretInput.focus();
      return null;
    } finally {
      button.disabled = false;
    }
  }
}
