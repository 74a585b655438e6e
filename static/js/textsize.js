/**
 * The reader's text size (适老化): standard, large or extra large, remembered on this device.
 *
 * Every length in the style sheets that should grow with the text is in rem, so one attribute
 * on <html> (data-size, read by base.css) scales the whole page. The choice is kept in a
 * cookie, like the language, so a page rendered on the server can carry it from the first
 * byte; this module applies it as soon as it is evaluated (i18n.js imports it first, before it
 * waits for its dictionary). No dependencies: the switch itself is built by ui.js (chrome).
 */

export const SIZES = ['standard', 'large', 'xlarge'];
const COOKIE = 'live_size';
const AGE = 400 * 24 * 3600;
const listeners = new Set();

function stored() {
  const m = document.cookie.match(/(?:^|;\s*)live_size=([a-z]+)/);
  return m && SIZES.includes(m[1]) ? m[1] : 'standard';
}

export let size = stored();

function paint() {
  if (size === 'standard') delete document.documentElement.dataset.size;
  else document.documentElement.dataset.size = size;
}

/** Choose a size, remember it on this device, and tell whoever listens (the switch). */
export function setSize(value) {
  if (!SIZES.includes(value)) return;
  size = value;
  document.cookie = `${COOKIE}=${value}; path=/; max-age=${AGE}; samesite=lax`;
  paint();
  for (const fn of listeners) fn(size);
}

export function onSize(fn) {
  listeners.add(fn);
}

paint();
