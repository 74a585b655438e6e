/**
 * "Similar questions" beside each pending question on the moderator page, to spot duplicates.
 *
 * Two sources: questions of this session that share most of their character pairs with it
 * (computed here, on every update; a pending one too, so two citizens asking the same thing
 * before either is reviewed are caught), and answered questions of earlier episodes from
 * /api/suggest (fetched once per question; if the endpoint is missing, that part is simply
 * left out). Only a question of this session can be merged into, so only those get a merge
 * button; the merge list picks the closest of them by default (`closest`).
 */
import { t } from './i18n.js';
import { PUBLIC } from './model.js';
import { h, safeLink } from './ui.js';

const GONE = new Set(['merged', 'rejected']);

/** May q be merged into x? The server's rule (live/commands.py, `merge`): any other question
 * of the session but one merged or declined; a pending one too, and q then shares its fate. */
export function mergeable(q, x) {
  return x.id !== q.id && !GONE.has(x.status);
}

function pairs(text) {
  const chars = Array.from((text || '').toLowerCase().replace(/[\s\p{P}]/gu, ''));
  return new Set(chars.slice(1).map((c, i) => chars[i] + c));
}

export class Similar {
  constructor(sid, model) {
    this.sid = sid;
    this.model = model;
    this.earlier = new Map();
    this.off = false;
  }

  /** Questions of this session q may be merged into that are probably the same question. */
  duplicates(q) {
    const mine = pairs(q.text);
    if (mine.size < 2) return [];
    return [...this.model.questions.values()].filter((x) => mergeable(q, x)).map((x) => {
      const other = pairs(x.text);
      const shared = [...mine].filter((p) => other.has(p)).length;
      return { x, score: shared / Math.min(mine.size, other.size || 1) };
    }).filter((d) => d.score >= 0.5).sort((a, b) => b.score - a.score).slice(0, 3)
      .map(({ x }) => ({ session_id: this.sid, question_id: x.id, question: x.text, status: x.status,
        link: PUBLIC.has(x.status) ? `/s/${this.sid}#q-${x.id}` : null }));
  }

  /** The id of the question q most probably repeats, or null. */
  closest(q) {
    const best = this.duplicates(q)[0];
    return best ? best.question_id : null;
  }

  async fetchEarlier(q) {
    this.earlier.set(q.id, []);
    if (this.off) return;
    try {
      const r = await fetch(`/api/suggest?session_id=${this.sid}&q=${encodeURIComponent(q.text || '')}`);
      if (r.status === 404 || r.status === 501) this.off = true;
      if (r.ok) this.earlier.set(q.id, ((await r.json()).results || []).filter((x) => x.session_id !== this.sid).slice(0, 3));
    } catch {
      /* suggestions are a help, not a requirement */
    }
  }

  /** Fill box with the similar questions for q; merge(into) merges q into one of them. */
  async show(box, q, merge) {
    if (!this.earlier.has(q.id)) await this.fetchEarlier(q);
    const items = [...this.duplicates(q), ...this.earlier.get(q.id)];
    const signature = `${t('lang.html')}|${items.map((x) => `${x.session_id}:${x.question_id}:${x.status || ''}`).join(',')}`;
    if (box.dataset.signature === signature) return;
    box.dataset.signature = signature;
    box.hidden = items.length === 0;
    const here = (x) => x.session_id === this.sid;
    const label = (x) => (here(x) ? `#${x.question_id} ${x.question || ''}` : x.question || '');
    box.replaceChildren(h('p', { class: 'similar-title' }, t('moderator.similar')), h('ul', { class: 'list' },
      items.map((x) => h('li', {},
        here(x) && !x.link ? h('span', {}, label(x), ' ', h('span', { class: 'chip', dataset: { status: x.status } }, t(`status.${x.status}`)))
          : h('a', { href: safeLink(x.link) || `/s/${x.session_id}#q-${x.question_id}`, target: '_blank', rel: 'noopener' }, label(x)),
        here(x) ? h('button', { type: 'button', class: 'btn small', on: { click: () => merge(x.question_id) } },
          t('moderator.merge_here', { id: x.question_id })) : null))));
  }
}
