/**
 * Answers held for review (four eyes, live/review.py): the panel the presenter and moderator
 * pages share.
 *
 * The server holds a typed answer and shows staff alone what it says, in its question's `held`;
 * this lists each one with who typed it, what it waits for and, when it has a deadline, a
 * countdown to its broadcast, beside the two things staff can do: release it (放行; the server
 * refuses the person who typed it) or withdraw it (撤回). Both are protocol requests naming the
 * hold the reader saw, so a hold replaced or released meanwhile is refused, never acted on twice.
 * The list is drawn from the page's model, like everything else on the page.
 */
import { actor } from './actor.js';
import { countdown, errorText, t, time } from './i18n.js';
import { $, announce, h, keyed, toast } from './ui.js';

export class HeldPanel {
  /** root: a section holding #held-count and #held-list; live gives requests and the clock. */
  constructor(root, model, live) {
    this.root = root;
    this.model = model;
    this.live = live;
  }

  items() {
    return [...this.model.questions.values()].filter((q) => q.held).sort((a, b) => a.held.seq - b.held.seq);
  }

  render() {
    const items = this.items();
    const tz = this.model.info.timezone || 'Asia/Shanghai';
    this.root.hidden = items.length === 0;
    $('#held-count', this.root).textContent = String(items.length);
    keyed($('#held-list', this.root), items, (q) => this.card(q), (li, q) => this.update(li, q, tz));
  }

  /** Only the countdowns move between events. */
  tick() {
    for (const li of $('#held-list', this.root).children) {
      const q = this.model.questions.get(Number(li.dataset.key));
      if (q && q.held) li.wait.textContent = this.waiting(q.held);
    }
  }

  card(q) {
    const li = h('li', { class: 'held-item' });
    li.question = h('p', { class: 'meta held-q' });
    li.answer = h('p', { class: 'held-text' });
    li.who = h('p', { class: 'meta' });
    li.wait = h('p', { class: 'held-wait', attrs: { role: 'timer' } });
    li.release = h('button', { type: 'button', class: 'btn small green', on: { click: () => this.act('release', q.id) } });
    li.withdraw = h('button', { type: 'button', class: 'btn small primary', on: { click: () => this.act('withdraw', q.id) } });
    li.append(li.question, li.answer, li.who, li.wait, h('div', { class: 'actions' }, li.release, li.withdraw));
    return li;
  }

  update(li, q, tz) {
    const held = q.held;
    li.dataset.hold = String(held.seq);
    li.question.replaceChildren(h('span', { class: 'qid' }, `#${q.id}`), ` ${q.text || ''}`);
    li.answer.textContent = held.text;
    const mode = held.mode === 'written' ? ` · ${t('presenter.mode_written')}` : '';
    const approved = held.approved_by ? ` · ${t('held.approved_by', { who: actor(held.approved_by) })}` : '';
    li.who.textContent = `${t('held.typed_by', { who: actor(held.typed_by), time: time(held.at, tz) })}${mode}${approved}`;
    li.wait.textContent = this.waiting(held);
    const approve = held.review === 'both' && held.release_at == null;
    li.release.textContent = t(approve ? 'held.approve' : held.release_at == null ? 'held.release' : 'held.release_now');
    li.withdraw.textContent = t('held.withdraw');
    for (const b of [li.release, li.withdraw]) b.setAttribute('aria-label', t('held.action_label', { action: b.textContent, q: q.text || '' }));
  }

  waiting(held) {
    if (held.release_at == null) return t(held.review === 'both' ? 'held.wait_approval' : 'held.wait_release');
    const left = held.release_at - this.live.now();
    return left > 0 ? t('held.goes_out_in', { left: countdown(left) }) : t('held.going_out');
  }

  async act(type, id) {
    const q = this.model.questions.get(id);
    if (!q || !q.held) return;
    try {
      const result = await this.live.request(type, { question_id: id, hold: q.held.seq });
      const done = type === 'withdraw' ? t('held.withdrawn') : result.release_at ? t('held.approved') : t('held.released');
      toast(done);
      announce(done);
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }
}
