/**
 * 朗读 / Read aloud: an answer read out by the browser's own speech synthesis (适老化).
 *
 * speakable(root, selector) puts a 朗读 button after every element under root that matches
 * selector (an answer's text), now and whenever the page adds one, so the pages keep building
 * their answers as they did (ui.js speakAnswers loads this module once a page shows an answer). Pressing it reads that text in the language it is written in (a
 * Chinese answer in a zh-CN voice even on the English page); pressing it again, or another
 * answer's button, stops it. Where the browser has no speech synthesis there is no button.
 *
 * Pages redraw their lists often (each vote tally); a redraw replaces the answer and its button,
 * so the new button takes over keyboard focus from the one it replaced and shows whether its text
 * is being read.
 */
import { t, onLang } from './i18n.js';
import { h, toast } from './ui.js';

const synth = window.speechSynthesis;
const buttons = new Set();
const done = new WeakSet();
let current = null; // { text, utterance } being read
let focused = null; // the speak button that last had keyboard focus

/** The language text is written in: Chinese characters make it zh-CN, else the page's own. */
function langOf(text) {
  return /[\u3400-\u9fff\uf900-\ufaff]/.test(text) ? 'zh-CN' : document.documentElement.lang || 'en';
}

/** A voice for code (zh-CN): the exact one, else one of the same language; null lets the browser pick. */
function voiceFor(code) {
  const norm = (v) => v.lang.replace('_', '-').toLowerCase();
  const voices = synth.getVoices();
  return voices.find((v) => norm(v) === code.toLowerCase())
    || voices.find((v) => norm(v).startsWith(code.slice(0, 2).toLowerCase())) || null;
}

function paint(button) {
  const on = current != null && current.text === button.speakText;
  button.textContent = on ? t('speak.stop') : t('speak.start');
  button.classList.toggle('speaking', on);
}

function paintAll() {
  for (const b of buttons) {
    if (b.isConnected) paint(b);
    else buttons.delete(b);
  }
}

function toggle(text) {
  const again = current != null && current.text === text;
  current = null;
  synth.cancel();
  if (!again) {
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = langOf(text);
    const voice = voiceFor(utterance.lang);
    if (voice) utterance.voice = voice;
    const mine = { text, utterance };
    const end = () => {
      if (current !== mine) return;
      current = null;
      paintAll();
    };
    utterance.addEventListener('end', end);
    utterance.addEventListener('error', (e) => {
      // Stopped by a press (interrupted, canceled) is no failure; no voice or no audio is.
      if (current === mine && e.error !== 'interrupted' && e.error !== 'canceled') toast(t('speak.failed'), 'error');
      end();
    });
    current = mine;
    synth.speak(utterance);
  }
  paintAll();
}

function button(el) {
  const text = el.textContent.trim();
  const b = h('button', { type: 'button', class: 'btn small speak', on: { click: () => toggle(text) } });
  b.speakText = text;
  b.addEventListener('focus', () => { focused = b; });
  buttons.add(b);
  paint(b);
  return b;
}

/** Give every element matching selector under root (now and later) a 朗读 button after it. */
export function speakable(root, selector) {
  const add = (el) => {
    if (done.has(el) || !el.textContent.trim()) return;
    done.add(el);
    const b = button(el);
    el.after(b);
    const lost = document.activeElement == null || document.activeElement === document.body;
    if (lost && focused && !focused.isConnected && focused.speakText === b.speakText) b.focus({ preventScroll: true });
  };
  const scan = (node) => {
    if (node.matches(selector)) add(node);
    for (const el of node.querySelectorAll(selector)) add(el);
  };
  scan(root);
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) scan(n);
  }).observe(root, { childList: true, subtree: true });
  onLang(paintAll);
  // Leaving the page (or the answer list) stops the voice: nothing reads on with no button to stop it.
  window.addEventListener('pagehide', () => synth.cancel());
}
