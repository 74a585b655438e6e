/**
 * The broadcast above the Q&A on the viewer page (/s/{id}): the session's live stream, set by an
 * admin (session.updated, like any change of the session), played on phones too.
 *
 * What it shows follows the session's info and the window's phase, nothing else:
 *   upcoming  a stream is set and the window has not opened: "not on yet", and when it starts;
 *   live      the window is open: the player (./player.js), whose own state is on the box as
 *             data-state: connecting, ready (paused, or the browser wants a tap before sound), playing,
 *             retrying (the signal dropped or the playlist is not there yet: try again, backing
 *             off), failed (this browser cannot play it);
 *   ended     after the window: "直播已结束", with the recording's replay one tap away if set.
 *
 * The page's CSP lets media in only from the origins its session named when the page loaded
 * (live/stream_http.py). A stream set later on another host is refused by that policy, so the
 * page reloads itself once before it plays, keeping the question being typed (sessionStorage).
 */
import { dateTime, t } from './i18n.js';
import { attach } from './player.js';
import { $, h, stylesheet } from './ui.js';

const ENDED = new Set(['closed', 'archived']);
const RETRY_MS = [2000, 5000, 10000, 20000, 30000];
const DRAFT = 'live.stream.draft';
const RELOADED = 'live.stream.reloaded';

function originOf(url) {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

function session(key, value) {
  try {
    if (value === undefined) return sessionStorage.getItem(key);
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    /* storage off: no draft kept, no reload guard */
  }
  return null;
}

export class Broadcast {
  /** box: the page's empty section; allowed: the stream and recording URLs the page loaded with. */
  constructor(box, { sid, tz, allowed }) {
    this.box = box;
    this.sid = sid;
    this.tz = tz;
    this.allowed = new Set(allowed.filter(Boolean).map(originOf));
    this.key = null;
    this.state = null;
    this.media = null;
    this.player = null;
    this.timer = null;
    this.retries = 0;
    this.screen = h('div', { class: 'screen' });
    this.status = h('p', { class: 'stream-status', attrs: { role: 'status' } });
    box.replaceChildren(this.screen, this.status);
    stylesheet('stream.css');
    document.addEventListener('securitypolicyviolation', (e) => {
      if (this.stream && originOf(e.blockedURI) === originOf(this.stream.url)) this.reload();
    });
    this.restoreDraft();
  }

  /** Show what the session's info and phase call for; cheap when nothing changed (every tick). */
  update(info, phase) {
    const stream = info.stream || null;
    this.info = info;
    this.stream = stream;
    let view = null;
    if (ENDED.has(phase)) view = stream || info.recording ? 'ended' : null;
    else if (stream) view = phase === 'open' ? 'live' : 'upcoming';
    const key = view === 'live' ? `live ${stream.kind} ${stream.url}` : view;
    this.box.hidden = !view;
    if (key !== this.key) {
      this.key = key;
      this.stop();
      if (view === 'live') this.start(stream);
      else if (view) this.set(view);
    }
    this.paint();
  }

  set(state, wait) {
    this.state = state;
    this.wait = wait;
    this.box.dataset.state = state;
    this.painted = null;
    this.paint();
  }

  /** The words for the state, in the page's language (again after a switch). */
  paint() {
    const s = this.state;
    const info = this.info || {};
    const painted = `${s} ${t('lang.html')} ${info.starts_at} ${!!info.recording}`;
    if (!s || this.painted === painted) return;
    this.painted = painted;
    if (s === 'upcoming' || s === 'ended') {
      const recording = s === 'ended' && info.recording
        ? h('a', { class: 'btn primary', href: `/s/${this.sid}/replay`, id: 'stream-replay' }, t('stream.watch_recording')) : null;
      this.screen.replaceChildren(h('div', { class: 'screen-note' },
        h('p', { class: 'screen-title' }, t(s === 'ended' ? 'stream.ended' : 'stream.upcoming')),
        s === 'upcoming' ? h('p', {}, t('stream.starts_at', { time: dateTime(info.starts_at, this.tz()) })) : null,
        recording));
      this.status.textContent = '';
      return;
    }
    if (s === 'ready') { // paused, or sound waits for a tap: one big button, not the small native one
      this.status.replaceChildren(h('button', { type: 'button', class: 'btn primary', id: 'stream-play',
        on: { click: () => this.media?.play().catch(() => {}) } }, t('stream.tap_to_play')));
    } else {
      const words = { connecting: 'stream.connecting', playing: 'stream.playing', retrying: 'stream.retrying',
        failed: 'stream.failed' }[s];
      this.status.textContent = t(words, { s: Math.round((this.wait || 0) / 1000) });
    }
    if (this.media) this.media.setAttribute('aria-label', t(this.stream?.kind === 'audio' ? 'stream.audio' : 'stream.video'));
  }

  async start(stream) {
    if (!this.allowed.has(originOf(stream.url))) {
      this.reload();
      return;
    }
    const key = this.key;
    const media = h(stream.kind === 'audio' ? 'audio' : 'video', { class: 'media', controls: true, preload: 'auto' });
    media.setAttribute('playsinline', ''); // iPhones play inline, not full screen
    this.media = media;
    this.box.dataset.kind = stream.kind;
    this.screen.replaceChildren(media);
    media.addEventListener('playing', () => {
      this.retries = 0;
      this.set('playing');
    });
    media.addEventListener('pause', () => {
      if (this.media === media && !media.ended && this.state === 'playing') this.set('ready');
    });
    media.addEventListener('ended', () => this.retry()); // the encoder stopped: the window is still open
    this.set('connecting');
    try {
      this.player = await attach(media, stream.url, { live: true, fatal: () => this.retry() });
    } catch {
      if (key === this.key) this.set('failed');
      return;
    }
    if (key !== this.key || this.media !== media) {
      this.player.stop(); // changed while hls.js was loading
      return;
    }
    this.box.dataset.engine = this.player.engine;
    media.play().catch(() => {
      if (this.media === media && this.state === 'connecting') this.set('ready');
    });
  }

  /** Playback broke: drop the player and start again after a wait that grows. */
  retry() {
    if (!this.media || this.timer) return;
    const stream = this.stream;
    const wait = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
    this.retries += 1;
    this.stopPlayer();
    this.set('retrying', wait);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.key === `live ${stream.kind} ${stream.url}`) this.start(stream);
    }, wait);
  }

  stopPlayer() {
    this.player?.stop();
    this.player = null;
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.stopPlayer();
    this.media = null;
    this.retries = 0;
    delete this.box.dataset.engine;
  }

  /** The page's policy predates this stream's host: load the page again (once per stream),
   * keeping what was being typed into the ask box. */
  reload() {
    const url = this.stream?.url;
    if (!url || session(RELOADED) === url) {
      this.stop();
      this.set('failed');
      return;
    }
    session(RELOADED, url);
    const text = $('#q-text')?.value || '';
    const contact = $('#q-contact')?.value || '';
    if (text || contact) session(DRAFT, JSON.stringify({ sid: this.sid, text, contact }));
    location.reload();
  }

  restoreDraft() {
    let draft = null;
    try {
      draft = JSON.parse(session(DRAFT));
    } catch {
      /* none */
    }
    session(DRAFT, null);
    if (!draft || draft.sid !== this.sid) return;
    for (const [id, value] of [['#q-text', draft.text], ['#q-contact', draft.contact]]) {
      const field = $(id);
      if (field && value && !field.value) {
        field.value = value;
        field.dispatchEvent(new Event('input', { bubbles: true }));
      }
    }
  }
}
