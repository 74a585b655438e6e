/**
 * The recording on the replay page (/s/{id}/replay), played in step with the event timeline.
 *
 * The timeline's position p (ms from its start, which is the wall-clock moment `start`) is the
 * moment start + p, and so (start + p - recording.starts_at) / 1000 seconds into the recording.
 * When a session has a recording it is the replay's clock: playing, pausing and seeking it (with
 * its own controls or the replay's) move the timeline (timeupdate, seeked, play, pause), and
 * moving the timeline (the seek bar, a question in the list, a #q link) seeks it. A moment the
 * recording does not cover shows its first or last frame, and says so.
 *
 * An answer given orally (mode "video") links to its moment: when the official was shown
 * answering it (question.answering), else when it was marked answered.
 */
import { t } from './i18n.js';
import { attach, isHls } from './player.js';
import { h, stylesheet } from './ui.js';

const CLOSE = 0.3;
/** Seconds within which the recording is taken to be where it was sent. */

function clockText(s) {
  const whole = Math.max(0, Math.floor(s));
  const pad = (n) => String(n).padStart(2, '0');
  const ms = `${pad(Math.floor((whole % 3600) / 60))}:${pad(whole % 60)}`;
  return whole >= 3600 ? `${Math.floor(whole / 3600)}:${ms}` : ms;
}

/** Where each orally answered question was spoken: { question id: timeline offset }. */
export function spoken(events, offsets) {
  const shown = new Map();
  const out = new Map();
  events.forEach((e, i) => {
    const d = e.data || {};
    if (e.type === 'question.answering' && d.answering != null) shown.set(d.answering, offsets[i]);
    const q = d.question;
    if (e.type === 'question.answered' && q?.answer?.mode === 'video' && !out.has(q.id)) {
      out.set(q.id, shown.get(q.id) ?? offsets[i]);
    }
  });
  return out;
}

export class Recording {
  /** moved(position, playing): the timeline follows; jump(position): move both, as a user would;
   * lost(): the recording cannot be played, and the replay keeps its own clock. */
  constructor(box, recording, { start, events, offsets, moved, jump, lost }) {
    this.rec = recording;
    this.lost = lost;
    this.start = start;
    this.moved = moved;
    this.jump = jump;
    this.oral = spoken(events, offsets);
    this.target = null;
    this.pending = null;
    const media = h('video', { class: 'media', controls: true, preload: 'auto' });
    media.setAttribute('playsinline', '');
    this.media = media;
    this.note = h('p', { class: 'stream-status', attrs: { role: 'status' } });
    box.replaceChildren(media, this.note);
    box.hidden = false;
    stylesheet('stream.css');
    media.addEventListener('loadedmetadata', () => {
      if (this.pending != null) this.seekTime(this.pending);
    });
    media.addEventListener('timeupdate', () => {
      if (!media.seeking && this.target == null) this.follow();
    });
    media.addEventListener('seeked', () => {
      const ours = this.target != null && Math.abs(media.currentTime - this.target) < CLOSE;
      this.target = null;
      if (!ours) this.follow(); // seeked with the recording's own controls
    });
    media.addEventListener('play', () => this.follow());
    media.addEventListener('pause', () => this.follow());
    this.ready = attach(media, recording.url, { hls: isHls(recording.url), fatal: () => this.failed() })
      .then((player) => {
        box.dataset.engine = player.engine;
      }, () => this.failed());
  }

  failed() {
    this.note.textContent = t('stream.failed');
    this.lost?.();
  }

  /** Seconds into the recording for a timeline position. */
  timeAt(position) {
    return (this.start + position - this.rec.starts_at) / 1000;
  }

  positionAt(time) {
    return this.rec.starts_at + time * 1000 - this.start;
  }

  /** The timeline moved (the seek bar, a question): the recording goes there too. */
  seek(position) {
    this.seekTime(this.timeAt(position));
  }

  seekTime(time) {
    const m = this.media;
    if (m.readyState < 1) {
      this.pending = time; // set on loadedmetadata, once its length is known
      return;
    }
    this.pending = null;
    const end = Number.isFinite(m.duration) ? m.duration : Infinity;
    const to = Math.min(Math.max(0, time), Math.max(0, end - 0.05));
    this.note.textContent = Math.abs(to - time) > 1 ? t('stream.outside') : '';
    if (Math.abs(m.currentTime - to) < 0.01) return;
    this.target = to;
    m.currentTime = to;
  }

  /** The recording played on, paused or was seeked: the timeline follows it. */
  follow() {
    const m = this.media;
    if (this.pending != null) return;
    this.note.textContent = '';
    this.moved(this.positionAt(m.currentTime), !m.paused && !m.ended);
  }

  play() {
    this.media.play().catch(() => {});
  }

  pause() {
    this.media.pause();
  }

  rate(speed) {
    this.media.playbackRate = Math.min(speed, 16); // browsers play at most 16x
  }

  /** A button to the moment an oral answer was given, or null. */
  answerLink(qid) {
    const at = this.oral.get(qid);
    if (at == null) return null;
    return h('button', { type: 'button', class: 'btn small oral-link', dataset: { at: String(at) },
      on: { click: () => this.jump(at) } }, t('stream.oral_link', { t: clockText(this.timeAt(at)) }));
  }
}
