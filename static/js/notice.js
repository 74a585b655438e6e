/**
 * The notice of what became of my own question: approved, answered, declined (with the reason
 * and the staff's note), merged, forwarded. In words, not colour alone; in view wherever the page
 * is scrolled (a second row of the sticky top bar); said to screen readers; it
 * stays until put away or followed to the question. The confirmation box of the last ask
 * follows that question too. The viewer page loads this module and its stylesheet only once
 * one of its asker's questions moves on.
 */
import { t, time } from './i18n.js';
import { $, announce, h } from './ui.js';

const style = new Promise((done) => {
  const link = h('link', { rel: 'stylesheet', href: '/static/css/notice.css', on: { load: done, error: done } });
  document.head.append(link);
});

export class Notice {
  /** tz() is the session's timezone; asker the page's ./ask.js Asker. The notice goes in the
   * sticky top bar, as a row of its own. */
  constructor(tz, asker) {
    this.tz = tz;
    this.asker = asker;
    this.m = null;
    const p = (id, cls) => h('p', { id, class: cls });
    this.see = h('a', { class: 'btn small blue', id: 'notice-see', href: '#mine', on: { click: (e) => this.follow(e) } });
    this.ok = h('button', { type: 'button', class: 'btn small', id: 'notice-close', on: { click: () => this.close() } });
    this.el = h('section', { class: 'notice', id: 'notice', hidden: true },
      p('notice-title', 'notice-title'), p('notice-text', 'notice-text'), p('notice-why', 'notice-why'),
      p('notice-q', 'notice-q meta'), h('p', { class: 'notice-actions' }, this.see, this.ok));
    $('.topbar').append(this.el);
  }

  /** m: my question as the server now shows it to me (welcome.mine, the `mine` request). */
  async show(m) {
    this.m = m;
    this.render();
    const [change, why] = this.words(m);
    const lead = m.status === 'answered' ? t('viewer.new_answer_mine', { q: m.text || '' }) : t('notice.title');
    announce([lead, change, why].filter(Boolean).join(' '));
    await style;
    if (this.m === m) this.el.hidden = false;
  }

  /** What the notice says of m, in the current language: the change, then why (reason, note). */
  words(m) {
    const a = m.answer;
    const at = a?.at ? time(a.at, this.tz()) : '';
    const reason = m.status === 'rejected' ? t('viewer.reason', { reason: t(`reason.${m.reason || 'other'}`) }) : '';
    const why = [reason, m.note || ''].filter(Boolean).join(' ');
    switch (m.status) {
      case 'approved': return [t('notice.approved'), ''];
      case 'answered':
        return [a && !a.text ? t('answer.oral', { time: at }) : t('notice.answered', { time: at }), ''];
      case 'rejected': return [t('notice.rejected'), why];
      case 'merged': return [t('notice.merged'), ''];
      case 'forwarded': return [t('viewer.forwarded', { dept: m.department || '' }), why];
      default: return [t(`status.${m.status}`), ''];
    }
  }

  /** Paint the notice and the confirmation box (again after a language switch or a new ask). */
  render() {
    this.done();
    const m = this.m;
    if (!m) return;
    this.el.dataset.status = m.status;
    this.ok.textContent = t('notice.dismiss');
    $('#notice-title').textContent = t('notice.title');
    const [change, why] = this.words(m);
    $('#notice-text').textContent = change;
    $('#notice-why').textContent = why;
    const text = m.text || '';
    $('#notice-q').textContent = text ? t('notice.quote', { q: text.length > 40 ? `${text.slice(0, 40)}…` : text }) : '';
    const merged = m.status === 'merged' && m.merged_into != null;
    this.see.textContent = t(merged ? 'notice.see_merged' : 'notice.see');
    this.see.href = merged ? `#q-${m.merged_into}` : `#mine-${m.id}`;
  }

  /** The confirmation of the last ask: "submitted, waiting for review", then what it became. */
  done() {
    const last = this.asker.mine.find((x) => x.id != null && x.id === this.asker.last);
    const status = last?.view?.status || 'pending';
    $('#ask-done').dataset.status = status;
    $('#ask-done .done-title').textContent = status === 'pending' ? t('viewer.submitted')
      : t('viewer.submitted_now', { status: t(`status.${status}`) });
    $('#ask-done .done-title + p').hidden = status !== 'pending';
  }

  /** Go to what the notice is about, and put the notice away. */
  follow(e) {
    e.preventDefault();
    const target = document.getElementById(this.see.getAttribute('href').slice(1));
    this.close();
    if (!target) return;
    target.scrollIntoView({ block: 'center' });
    if (!target.hasAttribute('tabindex')) target.tabIndex = -1;
    target.focus({ preventScroll: true });
  }

  close() {
    this.m = null;
    this.el.hidden = true;
  }
}
