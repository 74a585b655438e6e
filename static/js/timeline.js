/**
 * A session's log laid out on a playback timeline. Pure: no DOM, so tests can check it directly.
 *
 * Replay plays the log "as it happened": each event sits at its recorded time `at`, measured from
 * the start of the live window, and at speed s an event at offset o is shown o / s after pressing
 * play from the start. What happened before the window (the session being created, questions
 * collected early) is the state at offset 0; what came after the window closed (an answer written
 * up days later) lands at the end, so the end of the timeline is always the final state. If no
 * event falls inside the window at all (a log seeded out of hours), the timeline spans the events.
 */

/** The live window: from the scheduled start (or an earlier opening) to the close (or the end),
 * as the session stands after the last event (each session event carries it whole). */
function liveWindow(events) {
  let info = {};
  for (const e of events) info = e.data?.session || info;
  return { start: Math.min(info.starts_at ?? Infinity, info.opened_at ?? Infinity),
    end: info.closed_at ?? info.ends_at ?? -Infinity };
}

/**
 * { start, end, duration, offsets }: offsets[i] is where events[i] plays, in ms from start
 * (never decreasing, since the log is in seq order and clamped to [0, duration]).
 */
export function schedule(events) {
  if (!events.length) return { start: 0, end: 0, duration: 0, offsets: [] };
  const w = liveWindow(events);
  const inside = events.filter((e) => e.at >= w.start && e.at <= w.end);
  const start = inside.length ? Math.max(w.start, events[0].at) : events[0].at;
  const end = inside.length ? inside[inside.length - 1].at : events[events.length - 1].at;
  const duration = Math.max(0, end - start);
  let last = 0;
  const offsets = events.map((e) => {
    last = Math.max(last, Math.min(duration, Math.max(0, e.at - start)));
    return last;
  });
  return { start, end, duration, offsets };
}

/** How many events are shown at position (ms): all with an offset at or before it. */
export function countAt(offsets, position) {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid] <= position) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Wall-clock ms until the event at offset is shown, playing from position at speed. */
export function delay(offset, position, speed) {
  return Math.max(0, offset - position) / speed;
}

/**
 * Where each question's story is told: { id, offset, seq } at its first answer (or, never
 * answered, where it was published), so "jump to question" lands with the answer on screen.
 */
export function chapters(events, offsets) {
  const out = new Map();
  events.forEach((e, i) => {
    const q = e.data?.question;
    if (!q) return;
    if (q.status === 'answered' && !out.get(q.id)?.answered) {
      out.set(q.id, { id: q.id, offset: offsets[i], seq: e.seq, answered: true });
    } else if (q.text !== undefined && !out.has(q.id)) {
      out.set(q.id, { id: q.id, offset: offsets[i], seq: e.seq, answered: false });
    }
  });
  return [...out.values()].sort((a, b) => a.offset - b.offset || a.seq - b.seq);
}

export const SPEEDS = [1, 2, 4, 8, 16, 32];

/**
 * Where a wall-clock moment at (ms since the epoch) plays: at the first event stamped at or
 * after it, so that what was said at that moment is on screen (an event is stamped as it is
 * stored, a little after the time its request carries); after the last event, at the end.
 */
export function offsetAt(events, offsets, at) {
  const i = events.findIndex((e) => e.at >= at);
  return i < 0 ? (offsets.length ? offsets[offsets.length - 1] : 0) : offsets[i];
}
