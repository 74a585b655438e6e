/**
 * The outcomes section (办理结果) on the pages that draw it from the live stream: the session page
 * once the window is over, the replay and the staff's closing page. The server renders the same
 * section (live/templates/parts.html, `outcomes`) on the transcript and in the pages' first
 * response; each question in it is the `outcome_item` macro's template filled, and browser
 * tests hold the section around them to the same markup (docs/pages.md).
 *
 * Every question under its outcome (answered live, written reply, forwarded, carried over,
 * merged, declined, none yet), with the counts and the reply rate. The server decides each
 * question's `outcome` and what of it an audience may see (live/state.py, Question.to_wire): a
 * question never published arrives without its text, and this shows what arrived, as text.
 * The counts come from the page's model (Session.outcomes(), the server's rule in the browser).
 */
import { t, time } from './i18n.js';
import { OUTCOMES } from './model.js';
import { answerView, fill, h } from './ui.js';

/** "回复率 66.7%（已答复 2 / 应答复 3）", or that nothing was due. */
export function rateText(c) {
  if (c.reply_rate == null) return t('outcomes.rate_none');
  return t('outcomes.rate', { rate: `${(c.reply_rate * 100).toFixed(1)}%`, replied: c.replied, due: c.due });
}

/** One question: its text (or that it was never published), who asked and when, what became
 * of it: the page's outcome template (live/templates/parts.html, `outcome_item`) filled, with
 * its answer after the line of who asked, and what a staff page adds (ctx.extra, ctx.actions). */
function item(q, ctx) {
  const when = time(q.asked_at, ctx.tz);
  const words = [];
  if (q.department) words.push(t('viewer.forwarded', { dept: q.department }));
  if (q.outcome === 'declined') words.push(t('viewer.reason', { reason: t(`reason.${q.reason || 'other'}`) }));
  if (q.note) words.push(q.note);
  const ref = (r, key) => (r ? `/s/${r.session_id}#${key}-${r.question_id}` : null);
  const li = fill('outcome', {
    dom_id: `o-${q.id}`,
    outcome: q.outcome || 'none',
    text_class: q.text ? 'q-text' : 'q-text private',
    text: q.text || t('outcomes.private'),
    asked: `#${q.id} · ${q.name ? t('viewer.asked_by', { name: q.name, time: when }) : when}`,
    channel: q.channel ? t(`channel.${q.channel}`) : '',
    channel_code: q.channel || '',
    note: words.join(' '),
    merged: q.merged_into != null ? t('outcomes.merged_into', { id: q.merged_into }) : '',
    merged_href: q.merged_into != null ? `#o-${q.merged_into}` : null,
    carried_to: q.carried_to ? t('outcomes.carried_to') : '',
    carried_to_href: ref(q.carried_to, 'q'),
    carried_from: q.carried_from ? t('outcomes.carried_from') : '',
    carried_from_href: ref(q.carried_from, 'o'),
  });
  const meta = li.querySelector(':scope > .meta');
  if (q.answer && (q.outcome === 'answered' || q.outcome === 'written')) meta.after(answerView(q.answer, ctx));
  if (ctx.extra) meta.append(ctx.extra(q));
  if (ctx.actions) li.append(ctx.actions(q));
  return li;
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
