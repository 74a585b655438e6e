/**
 * Languages and time formatting, shared by every page.
 *
 * Every user-facing string lives in ./lang/zh.js or ./lang/en.js and nowhere else: pages mark
 * elements with data-i18n (textContent), data-i18n-placeholder, data-i18n-label (aria-label)
 * or data-i18n-title, and scripts call t(key, vars). Only the chosen language's dictionary is
 * downloaded, which keeps the viewer page light on a weak phone; the staff pages' strings are in
 * ./lang/<code>-staff.js, which only pages marked <html data-staff> download besides. Times are always shown in the
 * session's own timezone (Asia/Shanghai by default), whatever the reader's device is set to.
 *
 * The language: the reader's choice (the live_lang cookie, or this device's storage from before
 * the cookie), else what the server chose for a page it rendered (<html data-lang>: ?lang=, the
 * cookie, Accept-Language; live/i18n.py reads these same files), else Chinese. A choice is kept
 * in the cookie, so the server renders the next page in it; a choice kept only on this device
 * is moved to the cookie, and a page whose words are the server's is asked for again in it.
 */

const STORE = 'live.lang';
const COOKIE = 'live_lang'; // live/i18n.py COOKIE
export const LANGS = ['zh', 'en'];
const listeners = new Set();
const formats = new Map();

function cookie() {
  const m = typeof document === 'undefined' ? null : document.cookie.match(/(?:^|;\s*)live_lang=(\w+)/);
  return m ? m[1] : null;
}

function kept() {
  try {
    return localStorage.getItem(STORE);
  } catch {
    return null;
  }
}

function remember(code) {
  document.cookie = `${COOKIE}=${code}; path=/; max-age=${400 * 24 * 3600}; samesite=lax`;
  try {
    localStorage.setItem(STORE, code);
  } catch {
    /* private mode: the cookie still holds it */
  }
}

const STAFF = typeof document !== 'undefined' && document.documentElement.hasAttribute('data-staff');

async function load(code) {
  const base = (await import(`./lang/${code}.js`)).default;
  return STAFF ? { ...base, ...(await import(`./lang/${code}-staff.js`)).default } : base;
}

const rendered = typeof document === 'undefined' ? null : document.documentElement.dataset.lang;
export let lang = [cookie(), kept(), rendered].find((code) => LANGS.includes(code)) || 'zh';
if (rendered && lang !== rendered) { // chosen on this device before the cookie: the server did not know
  remember(lang);
  if (cookie() === lang && document.querySelector('form[data-reload]')) location.reload();
}
let dict = await load(lang);

/** The string for key in the current language, with {name} placeholders filled in. */
export function t(key, vars) {
  let s = dict[key];
  if (s === undefined) {
    console.warn('i18n: missing string', key);
    return key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** The keys under prefix ('channel.' gives 'channel.web', ...), in the order the strings file lists them. */
export function keys(prefix) {
  return Object.keys(dict).filter((k) => k.startsWith(prefix));
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(dict, key);
}

/** Fill every marked element under root with the current language. */
export function apply(root = document) {
  if (root === document) {
    document.documentElement.lang = t('lang.html');
    const title = document.querySelector('title[data-i18n]');
    if (title) document.title = t(title.dataset.i18n);
  }
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

/** Switch language, remember the choice on this device, and let pages re-render. */
export async function setLang(code) {
  if (!LANGS.includes(code) || code === lang) return;
  dict = await load(code);
  lang = code;
  formats.clear();
  remember(code);
  apply(document);
  for (const fn of listeners) fn();
}

export function onLang(fn) {
  listeners.add(fn);
}

/** A server error's message in the current language (errors carry {zh, en}). */
export function errorText(err) {
  const m = err && (typeof err.message === 'object' ? err.message : err.messages);
  if (m && typeof m === 'object') return m[lang] || m.zh || m.en || t('error.generic');
  if (err && err.code && has(`error.${err.code}`)) return t(`error.${err.code}`);
  return t('error.generic');
}

function format(tz, opts) {
  const key = `${tz}|${JSON.stringify(opts)}`;
  let f = formats.get(key);
  if (!f) {
    const base = { ...opts, hourCycle: 'h23' };
    try {
      f = new Intl.DateTimeFormat(t('lang.locale'), { ...base, timeZone: tz || 'Asia/Shanghai' });
    } catch {
      f = new Intl.DateTimeFormat(t('lang.locale'), { ...base, timeZone: 'Asia/Shanghai' });
    }
    formats.set(key, f);
  }
  return f;
}

export function time(ms, tz) {
  return format(tz, { hour: '2-digit', minute: '2-digit' }).format(ms);
}

export function date(ms, tz) {
  return format(tz, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' }).format(ms);
}

export function day(ms, tz) {
  return format(tz, { month: 'long', day: 'numeric', weekday: 'short' }).format(ms);
}

export function dateTime(ms, tz) {
  return format(tz, { month: 'long', day: 'numeric', weekday: 'short', hour: '2-digit',
    minute: '2-digit' }).format(ms);
}

/** How a timezone is named to readers: 北京时间 for Asia/Shanghai, else its IANA name. */
export function tzLabel(tz) {
  return has(`tz.${tz}`) ? t(`tz.${tz}`) : tz;
}

/** "6月12日 周四 19:30–21:30（北京时间）": a session's window in its own timezone. */
export function windowText(start, end, tz) {
  const sameDay = date(start, tz) === date(end, tz);
  const range = sameDay ? `${date(start, tz)} ${time(start, tz)}–${time(end, tz)}`
    : `${dateTime(start, tz)} – ${dateTime(end, tz)}`;
  return t('time.window', { range, tz: tzLabel(tz) });
}

/** A countdown: "2天 03:04:05" / "03:04:05". */
export function countdown(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(s / 86400);
  const pad = (n) => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return days ? `${t('time.days', { n: days })} ${hms}` : hms;
}
