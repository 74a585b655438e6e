/**
 * Asking before an act that cannot be taken back (ending the question window, replacing a
 * session's staff links), on the staff pages.
 *
 * The button that starts the act opens a question in its place with two buttons, confirm and
 * cancel; the question stays until one of them is pressed (or Escape, which cancels). It never
 * lapses on its own: a "click again" that silently expired after a few seconds left the page
 * asking for a second click that then only started over. The strings carry data-i18n, so a
 * language switch translates an open question too.
 */
import { t } from './i18n.js';
import { h } from './ui.js';

export class Confirm {
  /**
   * trigger: the button that asks; ask and yes: string keys (the question, the confirm
   * button); run(): the act; changed(open): told when the question opens or closes.
   */
  constructor(trigger, { ask, yes, run, changed = () => {} }) {
    this.trigger = trigger;
    this.changed = changed;
    this.yes = h('button', { type: 'button', class: 'btn small primary', dataset: { i18n: yes }, on: { click: () => {
      this.close(false);
      run();
    } } }, t(yes));
    this.no = h('button', { type: 'button', class: 'btn small', dataset: { i18n: 'common.cancel' },
      on: { click: () => this.close() } }, t('common.cancel'));
    this.box = h('span', { class: 'confirm', hidden: true, attrs: { role: 'group' },
      on: { keydown: (e) => { if (e.key === 'Escape') this.close(); } } },
    h('span', { class: 'confirm-ask', dataset: { i18n: ask } }, t(ask)), ' ', this.yes, ' ', this.no);
    trigger.setAttribute('aria-expanded', 'false');
    trigger.addEventListener('click', () => this.open());
  }

  get isOpen() {
    return !this.box.hidden;
  }

  /** Ask: the question replaces the button; focus goes to cancel, the safe answer. */
  open(focus = true) {
    this.box.hidden = false;
    this.trigger.hidden = true;
    this.trigger.setAttribute('aria-expanded', 'true');
    if (focus) this.no.focus();
    this.changed(true);
  }

  /** Put the button back (focus too, unless the act runs and takes the page elsewhere). */
  close(refocus = true) {
    if (this.box.hidden) return;
    this.box.hidden = true;
    this.trigger.hidden = false;
    this.trigger.setAttribute('aria-expanded', 'false');
    if (refocus) this.trigger.focus();
    this.changed(false);
  }
}
