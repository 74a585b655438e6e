/**
 * The session form's broadcast fields on the admin page: the live stream (an HLS URL, video or
 * audio only) and the recording (an HLS or MP4 URL, and the moment its first frame was taken).
 * They are sent with the rest of the session (PATCH /api/sessions/{id}); the server checks them
 * (bad_stream) and every page of the session hears of them through session.updated.
 */
import { $ } from './ui.js';

/** A timestamp as the value of a datetime-local input with seconds, in the session's timezone. */
function localSeconds(ms, tz) {
  if (ms == null) return '';
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit',
    day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    .formatToParts(ms).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

/** Fill the fields from a session as listed (none: a new session, empty). */
export function fillStream(s) {
  const tz = s?.timezone || 'Asia/Shanghai';
  $('#s-stream-url').value = s?.stream?.url || '';
  $('#s-stream-kind').value = s?.stream?.kind || 'video';
  $('#s-rec-url').value = s?.recording?.url || '';
  $('#s-rec-start').value = localSeconds(s?.recording?.starts_at, tz);
}

/** The fields as the session's `stream` and `recording` (null: none). The start is sent as
 * typed, without an offset: the server reads it in the session's timezone. */
export function readStream() {
  const url = $('#s-stream-url').value.trim();
  const rec = $('#s-rec-url').value.trim();
  const start = $('#s-rec-start').value;
  return {
    stream: url ? { url, kind: $('#s-stream-kind').value } : null,
    recording: rec ? { url: rec, starts_at: start.length === 16 ? `${start}:00` : start } : null,
  };
}
