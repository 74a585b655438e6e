/**
 * Small DOM helpers every page shares.
 *
 * h() is the only way pages build elements, and it only ever creates text nodes from strings:
 * whatever a citizen typed reaches the page through textContent, never as HTML.
 */
import { apply, lang, onLang, setLang, t, time } from './i18n.js';

export const $ = (sel, root = document) => root.querySelector(sel);

/**
 * h('li', {class: 'q', dataset: {id: 3}, attrs: {'aria-pressed': 'true'}, on: {click}}, 'text', node)
 * Strings become text nodes; null and false children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'attrs') for (const [a, v] of Object.entries(value)) el.setAttribute(a, v);
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else el[key] = value;
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Show items in list in order, reusing each one's element (create(item), update(el, item)).
 * Focus stays while the list re-sorts; when a keyboard user's item leaves, it goes to the item
 * taking its place, else to the list, not <body> (after a click it stays put).
 */
export function keyed(list, items, create, update) {
  const active = document.activeElement;
  const keyboard = active instanceof Element && active.matches(':focus-visible'); // not after a click
  const children = [...list.children];
  const at = children.findIndex((el) => el.contains(active));
  const old = new Map(children.map((el) => [el.dataset.key, el]));
  items.forEach((item, i) => {
    const key = String(item.id);
    let el = old.get(key);
    if (el) old.delete(key);
    else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
  });
  for (const el of old.values()) el.remove();
  if (at < 0 || (document.activeElement !== document.body && document.activeElement !== null)) return;
  if (active.isConnected) {
    active.focus({ preventScroll: true });
    return;
  }
  if (!keyboard) return;
  const next = list.children[at] || list.children[at - 1];
  const control = next && next.querySelector('button:not([disabled]), a[href], input, select, textarea');
  if (control) control.focus({ preventScroll: true });
  else {
    if (!list.hasAttribute('tabindex')) list.tabIndex = -1;
    list.focus({ preventScroll: true });
  }
}

/**
 * Show items in list (keyed()), each as draw(item) makes it from its template, brought in line
 * with that (sync()): an element the server rendered, or drawn before, keeps its nodes. arrived:
 * the ids of items that just arrived, to mark fresh (highlighted once, css/base.css).
 */
export function show(list, items, draw, arrived = null) {
  keyed(list, items, () => document.createElement('li'), (li, item) => {
    const now = draw(item);
    if (arrived && (arrived.delete(item.id) || li.classList.contains('fresh'))) now.classList.add('fresh');
    sync(li, now);
  });
}

/** The record's heading (the `record_head` macro): 已回答 with its count, or, once the studio
 * has posted, 访谈实况 without one. */
export function recordHead(answered, posts) {
  const title = $('#answered-title > span');
  title.dataset.i18n = posts ? 'viewer.record_title' : 'viewer.answered_title';
  title.textContent = t(title.dataset.i18n);
  $('#answered-count').textContent = answered && !posts ? String(answered) : '';
}

/** Fetch a style sheet of static/css/ a part of the page needs once it shows (studio.css,
 * commitment.css…), unless the page has it already (the server links it when it renders one). */
export function stylesheet(name) {
  if (!$(`link[href="/static/css/${name}"]`)) document.head.append(h('link', { rel: 'stylesheet', href: `/static/css/${name}` }));
}

/** A clone of <template id="t-{name}">, filled by slot name (docs/pages.md, parts.html). */
export function fill(name, values) {
  const el = document.getElementById(`t-${name}`).content.firstElementChild.cloneNode(true);
  for (const node of [el, ...el.querySelectorAll('[data-slot], [data-if], [data-bind]')]) {
    const { slot, bind, if: part } = node.dataset;
    if (part !== undefined && !values[part]) node.remove(); // a part without a value
    for (const [attr, key] of bind ? bind.split(' ').map((x) => x.split(':')) : []) {
      const v = values[key];
      if (v == null || v === false) node.removeAttribute(attr);
      else node.setAttribute(attr, v === true ? '' : v);
    }
    if (slot !== undefined) node.textContent = values[slot] ?? '';
  }
  return el;
}

/** Make el look like fresh (a filled clone), keeping the nodes that stay (docs/pages.md). */
export function sync(el, fresh) {
  for (const { name } of [...el.attributes]) if (!fresh.hasAttribute(name)) el.removeAttribute(name);
  for (const { name, value } of fresh.attributes) if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  const had = [...el.childNodes].filter((n) => !n.dataset?.added); // 朗读 stays
  const now = [...fresh.childNodes];
  if (had.length !== now.length || had.some((n, i) => n.nodeName !== now[i].nodeName)) {
    el.replaceChildren(...now);
    return;
  }
  had.forEach((n, i) => {
    if (n.nodeType === Node.ELEMENT_NODE) sync(n, now[i]);
    else if (n.data !== now[i].data) n.data = now[i].data;
  });
}

/** An answer, as every page shows it (t-answer). ctx: {guest, post, tz} of the session. */
export function answerView(a, ctx) {
  const at = a.at ? time(a.at, ctx.tz) : '';
  const who = { name: a.by || ctx.guest || '', post: ctx.post || '' };
  const text = a.text || '';
  return fill('answer', {
    answer_by: (text ? t(`answer.by_${a.mode || 'text'}`, who) : `${who.name} ${who.post}`).trim(),
    answer_text: text,
    answer_oral: text ? '' : t('answer.oral', { time: at }),
    answer_meta: [text && at, a.revision > 1 ? t('answer.revised') : ''].filter(Boolean).join(' · '),
  });
}

/** Who asked q and when (in the session's timezone tz), and the channel: the `asked` macro's slots. */
export function askedValues(q, tz) {
  return { asked: t('viewer.asked_by', { name: q.name || '', time: time(q.asked_at, tz) }),
    channel: q.channel ? t(`channel.${q.channel}`) : '', channel_code: q.channel || '' };
}

/** Carried over (结转) from an earlier episode, or a follow-up (追问) of one of its questions. */
function originValues(q) {
  const kind = q.carried_from ? 'carried' : q.follows ? 'follows' : null;
  if (!kind) return { origin: '' };
  const from = q.carried_from || q.follows;
  return { origin: t(`viewer.origin_${kind}`), origin_link: t(`viewer.origin_${kind}_link`),
    origin_href: `/s/${from.session_id}#o-${from.question_id}` };
}

/** A question's slots in the `question` macro's templates (its element's id: q-<id>, or on
 * the replay q<id>). */
export function questionValues(q, tz, prefix = 'q-') {
  return { key: String(q.id), dom_id: `${prefix}${q.id}`, text: q.text || '', ...askedValues(q, tz), ...originValues(q) };
}

/** Name the brand (#programme) after the programme, in every language: no longer the site
 * name's string, which a language switch would put back ("Online Q&A" on 区长在线's pages). */
export function brand(title) {
  const el = $('#programme');
  if (!el || !title) return;
  el.removeAttribute('data-i18n');
  el.textContent = title;
}

/** A session's episode number in words ("第31期", "No. 31"), or nothing when its title already
 * says it in either language ("区长在线 第31期：…" is never "第31期 区长在线 第31期：…"). */
export function episodeLabel(s) {
  if (!s.episode) return '';
  const n = Number(s.episode);
  const said = new RegExp(`第\\s*${n}\\s*期|(?:No\\.|Episode|#)\\s*${n}(?!\\d)`, 'i');
  return said.test(s.title || '') ? '' : t('common.episode', { n });
}

/** A session's title with its episode number in front, unless the title already says it. */
export function episodeTitle(s) {
  const ep = episodeLabel(s);
  return ep ? `${ep} ${s.title || ''}` : s.title || '';
}

/** Where a question came from, when not the web page: 热线, 短信, 微信, 12345 (live/channels.py);
 * else '' (replaceChildren writes null as text). */
export function channelTag(q) {
  return q && q.channel ? h('span', { class: 'chip channel', dataset: { channel: q.channel } }, t(`channel.${q.channel}`)) : '';
}

/** The session id in /s/{id}/... */
export function sessionId() {
  const m = location.pathname.match(/^\/s\/(\d+)/);
  return m ? Number(m[1]) : null;
}

/** A staff key from the link's #key=... fragment (never sent to the server in the URL). */
export function fragmentKey() {
  return new URLSearchParams(location.hash.slice(1)).get('key') || '';
}

let announced = { about: null, timer: 0 };

/** Tell screen-reader users what happened; `about`: the question quoted, to take it back. */
export function announce(text, about = null) {
  const region = $('#announcer');
  if (!region) return;
  region.textContent = '';
  clearTimeout(announced.timer);
  announced = { about, timer: setTimeout(() => { region.textContent = text; }, 50) };
}

/** Take back the last announcement if the question it quotes is no longer shown (hidden). */
export function retract(shown) {
  if (announced.about == null || shown(announced.about)) return;
  clearTimeout(announced.timer);
  announced = { about: null, timer: 0 };
  const region = $('#announcer');
  if (region) region.textContent = '';
}

let toastTimer;
/** A short visible notice that is also read out (role=status / alert). */
export function toast(text, kind = 'info') {
  let box = $('#toast');
  if (!box) {
    box = h('div', { id: 'toast', class: 'toast', attrs: { role: 'status' } });
    document.body.append(box);
  }
  box.className = `toast show ${kind}`;
  box.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.className = 'toast'; }, kind === 'error' ? 7000 : 3500);
}

/** Copy text to the clipboard, falling back to a selection where the Clipboard API is missing. */
export async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h('textarea', { value: text, class: 'sr-only', attrs: { 'aria-hidden': 'true' } });
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  if (button) {
    button.textContent = t('common.copied');
    setTimeout(() => { button.textContent = t('common.copy'); }, 1500);
  }
  toast(t('common.copied'));
}

/** Translate the page, wire the language switch (#lang: a form; marked data-reload, the server
 * renders the page again, else it switches in place) and the text size; then render(). */
export function chrome(render) {
  apply(document);
  const button = $('#lang');
  if (button) {
    const label = () => {
      button.textContent = t('lang.switch');
      button.setAttribute('aria-label', t('lang.switch_label'));
      button.value = lang === 'zh' ? 'en' : 'zh';
      button.lang = lang === 'zh' ? 'en' : 'zh-CN'; // its words are in the other language
    };
    label();
    button.addEventListener('click', (ev) => {
      if (button.form?.hasAttribute('data-reload')) {
        button.form.action = location.pathname + location.hash; // a staff #key= or an #anchor stays
        return;
      }
      ev.preventDefault();
      setLang(lang === 'zh' ? 'en' : 'zh');
    });
    onLang(label);
    (button.form || button).before(sizeSwitch());
  }
  if (render) onLang(render);
}

/**
 * The reader's text size (适老化): standard, large or extra large. Every length in the style
 * sheets that should grow with the text is in rem, so one attribute on <html> (data-size, read by
 * base.css) scales the whole page. The choice is kept in a cookie (live_size), like the language,
 * so a page rendered on the server can carry it from its first byte; here it is applied as soon as
 * this module runs.
 */
const SIZES = ['standard', 'large', 'xlarge'];
let size = document.cookie.match(/(?:^|;\s*)live_size=(large|xlarge)\b/)?.[1] || 'standard';
const paintSize = () => {
  if (size === 'standard') delete document.documentElement.dataset.size;
  else document.documentElement.dataset.size = size;
};
paintSize();

/**
 * 字号: a button in the top bar that opens a row of three (标准 / 大 / 特大), each a toggle
 * button (aria-pressed) that applies at once and stays open to compare; Escape, a tap elsewhere
 * or leaving it with Tab closes it. Three buttons side by side would not fit a phone's top bar.
 */
function sizeSwitch() {
  const toggle = h('button', { type: 'button', class: 'lang size-toggle', id: 'size',
    attrs: { 'aria-expanded': 'false', 'aria-controls': 'size-panel' } });
  const options = SIZES.map((value) => h('button', { type: 'button', class: 'size-option',
    dataset: { size: value }, on: { click: () => choose(value) } }));
  const panel = h('div', { class: 'size-panel', id: 'size-panel', hidden: true, attrs: { role: 'group' } }, options);
  const box = h('div', { class: 'size-switch' }, toggle, panel);
  const open = (yes) => {
    panel.hidden = !yes;
    toggle.setAttribute('aria-expanded', String(yes));
  };
  const paint = () => {
    toggle.textContent = t('size.switch');
    panel.setAttribute('aria-label', t('size.label'));
    for (const b of options) {
      b.textContent = t(`size.${b.dataset.size}`);
      b.setAttribute('aria-pressed', String(b.dataset.size === size));
    }
  };
  toggle.addEventListener('click', () => open(panel.hidden));
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !panel.hidden) {
      open(false);
      toggle.focus();
    }
  });
  box.addEventListener('focusout', (e) => {
    if (!box.contains(e.relatedTarget)) open(false);
  });
  document.addEventListener('pointerdown', (e) => {
    if (!box.contains(e.target)) open(false);
  });
  const choose = (value) => {
    size = value;
    document.cookie = `live_size=${value}; path=/; max-age=${400 * 24 * 3600}; samesite=lax`;
    paintSize();
    paint();
  };
  paint();
  onLang(paint);
  return box;
}

/** 朗读 under every answer (selector) in root: ./speak.js, fetched once the page shows an answer,
 * and only where the browser can speak. */
export function speakAnswers(root, selector) {
  if (!window.speechSynthesis || !window.SpeechSynthesisUtterance) return;
  const load = () => {
    if (!root.querySelector(selector)) return false;
    watch.disconnect();
    import('./speak.js').then((m) => m.speakable(root, selector), () => {}); // offline: no button
    return true;
  };
  const watch = new MutationObserver(load);
  if (!load()) watch.observe(root, { childList: true, subtree: true });
}

/** Keep a connection indicator (.conn with a .conn-text inside) in step with a Live client. */
export function indicator(el, live) {
  let state = 'connecting';
  const text = el.querySelector('.conn-text') || el;
  const paint = () => {
    el.dataset.state = state;
    text.textContent = t(`conn.${state}`);
    el.title = t(`conn.${state}_hint`);
  };
  const previous = live.on.status;
  live.on.status = (s, detail) => {
    state = s;
    paint();
    if (previous) previous(s, detail);
  };
  onLang(paint);
  paint();
}

/** The common start of a staff page: chrome, indicator, and a plain message when the key is
 * missing, wrong or rotated, or the session does not exist. */
export function staffChrome(live, render) {
  chrome(render);
  indicator($('#conn'), live);
  const fatal = (key) => {
    $('#fatal').hidden = false;
    $('#fatal').textContent = t(key);
  };
  const status = live.on.status;
  live.on.status = (state, detail) => {
    status(state, detail);
    if (state === 'stopped') fatal(detail.code === 4401 ? 'staff.bad_key' : 'error.session_not_found');
  };
  if (!fragmentKey()) fatal('staff.no_key');
}

/** Is this a link into our own site (suggestions and receipts come from the server as data)? */
export function safeLink(href) {
  try {
    const url = new URL(href, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  } catch {
    return null;
  }
}

/** Is keyboard focus in a text field (so single-key shortcuts must not fire)? */
export function typing(ev) {
  const el = ev.target;
  return el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}
