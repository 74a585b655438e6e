/**
 * The browser client for the live protocol (docs/protocol.md), shared by every page.
 *
 * It keeps the last seq and the epoch it saw and, on any disconnect, reconnects with them after
 * a backoff of 0.5 s, 1 s, 2 s ... up to 15 s with jitter, so a crowd of phones coming back
 * after a network blip does not arrive in one wave. The server then sends exactly the missed
 * events (or a snapshot with reset when the log changed). Browsers cannot see WebSocket pings,
 * so the client also sends an app-level ping every 20 s and treats a missing pong as a dead
 * line. Requests carry an id and resolve with the server's ack or reject with its error;
 * requests that are safe to repeat (an ask has its own client_id; votes are set, not counted)
 * are kept across a reconnect and sent again instead of failing.
 */

/** The protocol this page speaks (docs/protocol.md); live/protocol.py PROTOCOL, checked by a test. */
export const PROTOCOL = 2;
const PING_EVERY = 20000;
const PONG_WITHIN = 10000;
const BACKOFF_MIN = 500;
const BACKOFF_MAX = 15000;
const FATAL = new Set([4400, 4401, 4403, 4404]);
const DEVICE = 'live.device';

export class RequestError extends Error {
  constructor(frame) {
    super(frame.code);
    this.code = frame.code;
    this.messages = frame.message;
    this.details = frame.details || {};
  }
}

function storedDevice() {
  try {
    return localStorage.getItem(DEVICE) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * One live connection to one session. handlers: welcome(frame), snapshot(frame, reset),
 * event(event), presence(count), status(state, detail), error(frame).
 * States: connecting, live, reconnecting, offline, stopped.
 */
export class Live {
  constructor(sessionId, { token, handlers = {} } = {}) {
    this.sessionId = sessionId;
    this.token = token;
    this.on = handlers;
    this.seq = null;
    this.epoch = null;
    this.state = 'idle';
    this.offset = 0;
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map();
    this.ws = null;
    this.timers = {};
    this.stopped = false;
    window.addEventListener('online', () => this.retryNow());
    window.addEventListener('offline', () => this.drop());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.retryNow();
    });
  }

  /** Milliseconds since the epoch on the server's clock (countdowns use it). */
  now() {
    return Date.now() + this.offset;
  }

  start() {
    this.connect();
    return this;
  }

  setState(state, detail) {
    this.state = state;
    if (this.on.status) this.on.status(state, detail);
  }

  connect() {
    clearTimeout(this.timers.retry);
    if (this.stopped) return;
    this.setState(this.seq === null ? 'connecting' : 'reconnecting', { attempt: this.attempt });
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws/${this.sessionId}`);
    this.ws = ws;
    this.welcomed = false;
    ws.onopen = () => {
      const hello = { type: 'hello', protocol: PROTOCOL };
      if (this.token) hello.token = this.token;
      const device = storedDevice();
      if (device) hello.device = device;
      if (this.seq !== null && this.epoch) Object.assign(hello, { since: this.seq, epoch: this.epoch });
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (msg) => this.receive(msg.data);
    ws.onclose = (ev) => this.closed(ws, ev.code);
  }

  receive(text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    for (const frame of Array.isArray(data) ? data : [data]) {
      if (this.handle(frame) === false) return;
    }
  }

  handle(f) {
    switch (f.type) {
      case 'welcome': return this.welcome(f);
      case 'snapshot':
        this.seq = f.seq;
        if (this.on.snapshot) this.on.snapshot(f, this.resetting);
        return true;
      case 'ack': case 'error': return this.reply(f);
      case 'pong':
        clearTimeout(this.timers.pong);
        return true;
      case 'presence':
        if (this.on.presence) this.on.presence(f.viewers);
        return true;
      default: break;
    }
    if (typeof f.seq !== 'number') return true;
    if (f.seq <= this.seq) return true;
    if (f.seq !== this.seq + 1) {
      this.drop();
      return false;
    }
    this.seq = f.seq;
    if (this.on.event) this.on.event(f);
    return true;
  }

  welcome(f) {
    this.welcomed = true;
    this.epoch = f.epoch;
    this.offset = f.server_time - Date.now();
    this.resetting = f.reset;
    this.attempt = 0;
    if (f.device) {
      try {
        localStorage.setItem(DEVICE, f.device);
      } catch {
        /* the cookie still identifies this device */
      }
    }
    if (this.on.welcome) this.on.welcome(f);
    this.setState('live');
    this.startPing();
    for (const [id, p] of this.pending) if (!p.sent) this.transmit(id, p);
    return true;
  }

  reply(f) {
    const p = this.pending.get(f.re);
    if (!p) {
      if (f.type === 'error' && this.on.error) this.on.error(f);
      return true;
    }
    this.pending.delete(f.re);
    if (f.type === 'ack') p.resolve(f.result || {});
    else p.reject(new RequestError(f));
    return true;
  }

  startPing() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(JSON.stringify({ type: 'ping', id: `p${this.nextId++}` }));
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.drop(), PONG_WITHIN);
    }, PING_EVERY);
  }

  closed(ws, code) {
    if (ws !== this.ws) return;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.ws = null;
    for (const [id, p] of this.pending) {
      if (p.resend) p.sent = false;
      else {
        this.pending.delete(id);
        p.reject(new RequestError({ code: 'disconnected' }));
      }
    }
    if (FATAL.has(code) || this.stopped) {
      this.stopped = true;
      this.setState('stopped', { code });
      return;
    }
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** this.attempt);
    const delay = Math.round(base * (0.7 + Math.random() * 0.6));
    this.attempt += 1;
    this.setState(navigator.onLine === false ? 'offline' : 'reconnecting',
      { attempt: this.attempt, retryAt: Date.now() + delay });
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  /** Give up on the current socket now, without waiting for a close handshake a dead line never completes. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
    this.closed(ws, 1006);
  }

  /** Reconnect at once (the network came back, the tab became visible, or the user asked). */
  retryNow() {
    if (this.stopped || this.ws) return;
    this.attempt = 0;
    this.connect();
  }

  /**
   * Send a request; resolves with the ack's result, rejects with a RequestError.
   * With resend, a request made or in flight while disconnected is sent after reconnecting.
   */
  request(type, fields = {}, { resend = false } = {}) {
    const id = `r${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const p = { frame: { type, id, ...fields }, resolve, reject, resend, sent: false };
      if (this.ws && this.welcomed && this.ws.readyState === WebSocket.OPEN) {
        this.pending.set(id, p);
        this.transmit(id, p);
      } else if (resend) {
        this.pending.set(id, p);
      } else {
        reject(new RequestError({ code: 'disconnected' }));
      }
    });
  }

  transmit(id, p) {
    p.sent = true;
    this.ws.send(JSON.stringify(p.frame));
  }
}

/** A random id for idempotent asks (crypto.randomUUID needs a secure context; this does not). */
export function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
