/**
 * The outcomes section (办理结果) on the pages that draw it from the live stream: the session page
 * once the window is over, the replay and the staff's closing page. The server renders the same
 * section (live/templates/parts.html, `outcomes`) on the transcript and in the session page's
 * first response; a browser test holds the two to the same markup (docs/pages.md).
 *
 * Every question under its outcome (answered live, written reply, forwarded, carried over,
 * merged, declined, none yet), with the counts and the reply rate. The server decides each
 * question's `outcome` and what of it an audience may see (live/state.py, Question.to_wire): a
 * question never published arrives without its text, and this shows what arrived, as text.
 * The counts come from the page's model (Session.outcomes(), the server's rule in the browser).
 */
import { t, time } from './i18n.js';
import { OUTCOMES } from './model.js';
import { answerView, channelTag, h } from './ui.js';

/** "回复率 66.7%（已答复 2 / 应答复 3）", or that nothing was due. */
export function rateText(c) {
  if (c.reply_rate == null) return t('outcomes.rate_none');
  return t('outcomes.rate', { rate: `${(c.reply_rate * 100).toFixed(1)}%`, replied: c.replied, due: c.due });
}

/** Where a question of another session is shown: its session page, at that question. */
function elsewhere(ref, key) {
  return h('a', { href: `/s/${ref.session_id}#${key}-${ref.question_id}` }, t(`outcomes.${key === 'q' ? 'carried_to' : 'carried_from'}`));
}

/** What became of one question, in words: the answer, the department, the reason, the links. */
export function detail(q, ctx) {
  const out = [];
  const a = q.answer;
  if (a && (q.outcome === 'answered' || q.outcome === 'written')) out.push(answerView(a, ctx));
  const words = [];
  if (q.department) words.push(t('viewer.forwarded', { dept: q.department }));
  if (q.outcome === 'declined') words.push(t('viewer.reason', { reason: t(`reason.${q.reason || 'other'}`) }));
  if (q.note) words.push(q.note);
  if (words.length) out.push(h('p', { class: 'outcome-note' }, words.join(' ')));
  if (q.merged_into != null) out.push(h('p', { class: 'meta' }, h('a', { href: `#o-${q.merged_into}` }, t('outcomes.merged_into', { id: q.merged_into }))));
  if (q.carried_to) out.push(h('p', { class: 'meta' }, elsewhere(q.carried_to, 'q')));
  if (q.carried_from) out.push(h('p', { class: 'meta' }, elsewhere(q.carried_from, 'o')));
  return out;
}

/** One question: its text (or that it was never published), who asked and when, what became of it. */
function item(q, ctx) {
  return h('li', { class: 'q', id: `o-${q.id}`, dataset: { outcome: q.outcome || 'none' } },
    h('p', { class: q.text ? 'q-text' : 'q-text private' }, q.text || t('outcomes.private')),
    h('p', { class: 'meta' }, `#${q.id} · `, q.name ? t('viewer.asked_by', { name: q.name, time: time(q.asked_at, ctx.tz) }) : time(q.asked_at, ctx.tz),
      channelTag(q), ctx.extra ? ctx.extra(q) : null),
    ...detail(q, ctx),
    ctx.actions ? ctx.actions(q) : null);
}

/**
 * Fill box with the section: the reply rate, the count of each outcome, then each group.
 * questions: as the page's audience sees them; counts: {answered, ..., none, replied, due,
 * reply_rate}; ctx: {tz, guest, post, only?: outcomes to list, extra?(q), actions?(q)}.
 */
export function renderOutcomes(box, questions, counts, ctx) {
  const groups = (ctx.only || OUTCOMES).map((name) => [name, questions.filter((q) => (q.outcome || 'none') === name)
    .sort((a, b) => a.asked_at - b.asked_at || a.id - b.id)]).filter(([, items]) => items.length);
  box.replaceChildren(
    h('p', { class: 'outcome-rate' }, rateText(counts)),
    h('p', { class: 'meta' }, t('outcomes.rate_hint')),
    h('ul', { class: 'outcome-counts', attrs: { 'aria-label': t('outcomes.counts') } },
      OUTCOMES.filter((name) => counts[name]).map((name) => h('li', { dataset: { outcome: name } },
        h('span', {}, t(`outcome.${name}`)), ' ', h('strong', {}, String(counts[name]))))),
    ...groups.map(([name, items]) => h('section', { class: 'outcome-group', dataset: { outcome: name } },
      h('h3', {}, t(`outcome.${name}`), ' ', h('span', { class: 'count-badge' }, String(items.length))),
      h('ol', { class: 'list qlist' }, items.map((q) => item(q, ctx))))));
}
