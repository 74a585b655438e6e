/**
 * The viewer page's ask box, and the list of this device's own questions.
 *
 * A first-time visitor must manage alone, so the box checks what it can before sending (empty,
 * too long), says plainly what happened after ("submitted, waiting for review" with a receipt
 * number), and offers already-answered questions while the citizen types. Each ask carries a
 * random client_id and is resent after a dropped connection, so it is stored exactly once.
 * The citizen's own questions come from the server: welcome.mine has this device's view of each
 * (what they wrote, as it now reads after any edit, with its outcome), asked for again (`mine`)
 * when one changes; localStorage keeps them across visits and holds a question while it is sent.
 * When that view says one moved on (even while the page was closed), moved(view) is told.
 */
import { errorText, t } from './i18n.js';
import { randomId } from './live.js';
import { $, copy, h, safeLink } from './ui.js';

const NAME = 'live.name';
const ASKED = 'live.asked';

export function read(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

export function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: kept for this visit only */
  }
}

export class Asker {
  /** changed() is called whenever the list of my questions changes. */
  constructor(live, sid, changed, moved) {
    this.live = live;
    this.sid = sid;
    this.changed = changed;
    this.moved = moved;
    this.key = `live.mine.${sid}`;
    this.mine = read(this.key, []);
    this.limit = Number($('#q-text').getAttribute('maxlength'));
    this.done = false;
    this.suggestOff = false;
  }

  /** The server's own view of each of my questions (welcome.mine), including those asked
   * elsewhere (another tab, or before storage was cleared). */
  merge(known) {
    const moved = [];
    for (const m of known || []) {
      const entry = this.mine.find((x) => x.id === m.id);
      if (entry) {
        const before = entry.view?.status ?? entry.status;
        if (before && before !== m.status) moved.push(m);
        entry.view = m;
      } else this.mine.push({ id: m.id, receipt: m.receipt, at: 0, view: m });
    }
    this.save();
    for (const m of moved) this.moved(m);
  }

  /** One of my questions changed: ask for my own view again (`mine`), since no public event
   * carries text that is not published (a pending question of mine edited by staff). */
  async refresh() {
    try {
      this.merge((await this.live.request('mine')).mine);
      this.changed();
    } catch {
      /* the public result stands until the next change or reconnect */
    }
  }

  owns(id) {
    return this.mine.some((m) => m.id === id);
  }

  save() {
    write(this.key, this.mine.filter((x) => x.id));
  }

  /** Show the form or the confirmation, as far as the window allows asking at all. */
  show(accepting) {
    $('#ask-form').hidden = !accepting || this.done;
    $('#ask-done').hidden = !this.done;
  }

  setup() {
    if (!$('#q-name').value) $('#q-name').value = read(NAME, '') || '';
    $('#howto').open = !read(ASKED, false);
    this.done = !$('#ask-done').hidden; // a form post's receipt
    $('#ask-form').addEventListener('submit', (e) => this.submit(e));
    $('#q-text').addEventListener('input', () => {
      this.count();
      this.suggest();
    });
    $('#ask-again').addEventListener('click', (e) => {
      e.preventDefault();
      this.done = false;
      this.show(true);
      $('#q-text').focus();
    });
    $('#receipt-copy').addEventListener('click', (e) => copy($('#receipt').textContent, e.currentTarget));
    this.count();
  }

  count() {
    const n = $('#q-text').value.length;
    const c = $('#q-count');
    c.textContent = `${n}/${this.limit}`;
    c.classList.toggle('over', n > this.limit * 0.9);
  }

  async submit(ev) {
    ev.preventDefault();
    const text = $('#q-text').value.trim();
    const error = $('#ask-error');
    error.textContent = '';
    if (!text || text.length > this.limit) {
      error.textContent = text ? t('viewer.err_long', { n: this.limit }) : t('viewer.err_empty');
      $('#q-text').focus();
      return;
    }
    const name = $('#q-name').value.trim();
    write(NAME, name);
    const entry = { client_id: randomId(), text, at: Date.now(), sending: true };
    this.mine.push(entry);
    this.changed();
    const button = $('#ask-submit');
    button.disabled = true;
    button.textContent = t('viewer.submitting');
    try {
      const r = await this.live.request('ask', { client_id: entry.client_id, text, name,
        contact: $('#q-contact').value.trim() }, { resend: true });
      Object.assign(entry, { id: r.question_id, receipt: r.receipt, status: r.status });
      this.last = r.question_id;
      delete entry.sending;
      this.save();
      write(ASKED, true);
      $('#howto').open = false;
      $('#q-text').value = '';
      $('#q-contact').value = '';
      this.count();
      this.hideSuggest();
      $('#receipt').textContent = r.receipt || '';
      $('#secret').textContent = r.secret || ''; // shown this once (./say.js): a resend has none
      $('#secret-row').hidden = !r.secret;
      $('#secret-save').hidden = !r.secret;
      this.done = true;
      this.show(true);
      $('#ask-done').focus();
    } catch (err) {
      this.mine = this.mine.filter((x) => x !== entry);
      error.textContent = errorText(err);
    } finally {
      button.disabled = false;
      button.textContent = t('viewer.submit');
      this.changed();
    }
  }

  hideSuggest() {
    $('#suggest').hidden = true;
    $('#suggest-list').replaceChildren();
  }

  /** "Already answered?" links while typing; if the endpoint is missing they simply do not show. */
  suggest() {
    clearTimeout(this.suggestTimer);
    const q = $('#q-text').value.trim();
    if (this.suggestOff || q.length < 4) {
      this.hideSuggest();
      return;
    }
    this.suggestTimer = setTimeout(async () => {
      if (this.suggestAbort) this.suggestAbort.abort();
      this.suggestAbort = new AbortController();
      try {
        const r = await fetch(`/api/suggest?session_id=${this.sid}&q=${encodeURIComponent(q)}`,
          { signal: this.suggestAbort.signal });
        if (r.status === 404 || r.status === 501) this.suggestOff = true;
        if (!r.ok) return this.hideSuggest();
        const results = ((await r.json()).results || []).slice(0, 3);
        $('#suggest-list').replaceChildren(...results.map((x) => h('li', {},
          h('a', { href: safeLink(x.link) || `/s/${x.session_id}#q-${x.question_id}` }, x.question || ''),
          x.answer ? h('p', { class: 'meta' }, x.answer.length > 60 ? `${x.answer.slice(0, 60)}…` : x.answer) : null)));
        $('#suggest').hidden = results.length === 0;
      } catch (err) {
        if (err.name !== 'AbortError') this.hideSuggest();
      }
      return undefined;
    }, 400);
  }
}
