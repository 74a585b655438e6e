/**
 * A session's state in the browser: what the server says it is, replaced by id.
 *
 * The server derives every view from its one fold over the log (live/state.py, apply) and each
 * event carries its result (protocol 2): `session` as it now stands, `question` as this page's
 * audience may now see it, who is `answering`, vote counts, and the studio's `post` (the host's
 * lines and photos, live/studio.py). So this keeps no rule of what an event does: it loads a
 * snapshot and replaces what each event says changed. apply() returns the question an event
 * touched (or null) so pages can highlight or announce exactly that.
 */

export const PUBLIC = new Set(['approved', 'answered', 'carried_over']);
/** After the window: the closing stage (办结), then the archived record. */
export const ENDED = new Set(['closed', 'archived']);
/** Outcomes in the order pages list them (live/state.py OUTCOMES). */
export const OUTCOMES = ['answered', 'written', 'forwarded', 'carried_over', 'merged', 'declined', 'none'];

export class Session {
  constructor() {
    this.info = {};
    this.questions = new Map();
    this.answering = null;
    this.posts = new Map();
  }

  load(snapshot) {
    this.info = snapshot.session || {};
    this.answering = snapshot.answering ?? null;
    this.questions = new Map((snapshot.questions || []).map((q) => [q.id, q]));
    this.posts = new Map((snapshot.posts || []).map((p) => [p.id, p]));
  }

  /** Take one event's result in; returns the question it touched, if any. */
  apply(e) {
    const d = e.data || {};
    if (d.session) this.info = d.session;
    if ('answering' in d) this.answering = d.answering;
    for (const [id, n] of Object.entries(d.votes || {})) {
      const item = this.questions.get(Number(id));
      // Only where this view shows votes: a tally may follow a hide, which leaves no count.
      if (item && 'votes' in item) item.votes = n;
    }
    if (d.post) { // a withdrawn post leaves nothing behind
      if (d.post.withdrawn) this.posts.delete(d.post.id);
      else this.posts.set(d.post.id, d.post);
    }
    if (!d.question) return null;
    this.questions.set(d.question.id, d.question);
    return d.question;
  }

  /** upcoming, collecting, open, closed or archived at now (ms), exactly as the server decides it. */
  phase(now) {
    const i = this.info;
    if (i.archived_at != null) return 'archived';
    if (i.closed_at != null || now >= (i.ends_at || 0)) return 'closed';
    if (i.opened_at != null || now >= (i.starts_at || 0)) return 'open';
    if (i.collect_from != null && now >= i.collect_from) return 'collecting';
    return 'upcoming';
  }

  counts() {
    const c = { received: 0, pending: 0, published: 0, answered: 0, declined: 0, merged: 0,
      hidden: 0, forwarded: 0, carried_over: 0 };
    for (const item of this.questions.values()) {
      c.received += 1;
      if (PUBLIC.has(item.status) || item.published) c.published += 1; // forwarded once published too
      if (item.status === 'rejected') c.declined += 1;
      else if (item.status in c) c[item.status] += 1;
    }
    return c;
  }

  /** Questions per outcome, and the reply rate (live/state.py State.outcomes, compared by a test). */
  outcomes() {
    const c = Object.fromEntries(OUTCOMES.map((k) => [k, 0]));
    for (const item of this.questions.values()) c[item.outcome || 'none'] += 1;
    const replied = c.answered + c.written + c.forwarded;
    const due = this.questions.size - c.merged - c.carried_over;
    return { ...c, replied, due, reply_rate: due ? replied / due : null };
  }

  /** Questions with a status, sorted by votes (then oldest first) or by time asked. */
  list(status, order = 'votes') {
    const items = [...this.questions.values()].filter((x) => x.status === status);
    if (order === 'votes') return items.sort((a, b) => (b.votes || 0) - (a.votes || 0) || a.asked_at - b.asked_at);
    if (order === 'answered') return items.sort((a, b) => (b.answer?.at || 0) - (a.answer?.at || 0));
    return items.sort((a, b) => a.asked_at - b.asked_at);
  }
}
