/**
 * A session's state in the browser: the same fold over the event log as live/state.py.
 *
 * Every page loads a snapshot and applies events in seq order, so the viewer, the presenter,
 * the moderator and the big screen cannot disagree about what happened. apply() returns the
 * affected question (or null) so pages can highlight or announce exactly what changed.
 */

export const PUBLIC = new Set(['approved', 'answered']);

export class Session {
  constructor() {
    this.info = {};
    this.questions = new Map();
    this.answering = null;
  }

  load(snapshot) {
    this.info = snapshot.session || {};
    this.answering = snapshot.answering ?? null;
    this.questions = new Map((snapshot.questions || []).map((q) => [q.id, { ...q }]));
  }

  /** Fold one event in; returns the question it touched, if any. */
  apply(e) {
    const d = e.data || {};
    const q = (id) => this.questions.get(id);
    switch (e.type) {
      case 'session.created': case 'session.updated':
        this.info = { ...this.info, ...d.session };
        return null;
      case 'session.opened':
        this.info = { ...this.info, opened_at: d.at, closed_at: null };
        return null;
      case 'session.closed':
        this.info = { ...this.info, closed_at: d.at };
        return null;
      case 'session.extended':
        this.info = { ...this.info, ends_at: d.ends_at, closed_at: null };
        return null;
      case 'session.moderation':
        this.info = { ...this.info, moderation: d.mode };
        return null;
      case 'question.asked': case 'question.approved': {
        const next = { ...(q(d.question.id) || {}), ...d.question };
        this.questions.set(next.id, next);
        return next;
      }
      case 'question.answering':
        this.answering = d.id;
        return d.id == null ? null : q(d.id) || null;
      case 'votes.tallied':
        for (const [id, n] of Object.entries(d.votes || {})) {
          const item = q(Number(id));
          if (item) item.votes = n;
        }
        return null;
      default: break;
    }
    const item = q(d.id);
    if (!item) return null;
    switch (e.type) {
      case 'question.rejected':
        Object.assign(item, { status: 'rejected', reason: d.reason || '', note: d.note || '' });
        break;
      case 'question.answered':
        Object.assign(item, { status: 'answered', answer: d.answer });
        break;
      case 'question.edited':
        if (item.original_text === undefined && item.text !== undefined) item.original_text = item.text;
        if (item.text !== undefined || PUBLIC.has(item.status)) item.text = d.text;
        break;
      case 'question.merged':
        Object.assign(item, { status: 'merged', into: d.into });
        break;
      case 'question.hidden':
        item.status = 'hidden';
        break;
      case 'question.forwarded':
        Object.assign(item, { status: 'forwarded', department: d.department, note: d.note || '' });
        break;
      default: return null;
    }
    if (this.answering === item.id && item.status !== 'approved') this.answering = null;
    return item;
  }

  /** upcoming, collecting, open or closed at now (ms), exactly as the server decides it. */
  phase(now) {
    const i = this.info;
    if (i.closed_at != null || now >= (i.ends_at || 0)) return 'closed';
    if (i.opened_at != null || now >= (i.starts_at || 0)) return 'open';
    if (i.collect_from != null && now >= i.collect_from) return 'collecting';
    return 'upcoming';
  }

  counts() {
    const c = { received: 0, pending: 0, published: 0, answered: 0, declined: 0, merged: 0,
      hidden: 0, forwarded: 0 };
    for (const item of this.questions.values()) {
      c.received += 1;
      if (PUBLIC.has(item.status)) c.published += 1;
      if (item.status === 'rejected') c.declined += 1;
      else if (item.status in c) c[item.status] += 1;
    }
    return c;
  }

  /** Questions with a status, sorted by votes (then oldest first) or by time asked. */
  list(status, order = 'votes') {
    const items = [...this.questions.values()].filter((x) => x.status === status);
    if (order === 'votes') return items.sort((a, b) => (b.votes || 0) - (a.votes || 0) || a.asked_at - b.asked_at);
    if (order === 'answered') return items.sort((a, b) => (b.answer?.at || 0) - (a.answer?.at || 0));
    return items.sort((a, b) => a.asked_at - b.asked_at);
  }
}
