/**
 * What a commitment (承诺事项) looks like, on every page that shows one, and the staff forms
 * that record one or report its progress.
 *
 * The server keeps the record (live/commitments.py; each event carries the question with its
 * `commitment`) and decides whether it is overdue, by its own clock in the session's timezone:
 * pages only show what they are given. What a commitment looks like is the `commitment` macro
 * (live/templates/parts.html): the server renders the board and the receipt lookup with it, and
 * a page that follows the live stream (我的问题, the moderator page) carries its templates, which
 * this fills (ui.js fill(): text only). Every string a person typed goes in as text.
 */
import { date, t } from './i18n.js';
import { fill, h } from './ui.js';

export const STATUSES = ['in_progress', 'done', 'postponed'];

/** A due day (YYYY-MM-DD) as a date in the reader's language: it is a day, not a moment. */
export function dueText(due) {
  const [y, m, d] = due.split('-').map(Number);
  return date(Date.UTC(y, m - 1, d, 12), 'UTC');
}

/**
 * The commitment c, filled into t-commitment and, one per step of its history, t-commitment-step
 * (the `commitment` and `commitment_step` macros given none); overdue as the server said (null
 * where the page has no verdict).
 */
export function commitmentView(c, tz, overdue = null) {
  const history = c.history || [];
  const el = fill('commitment', {
    status: c.status,
    overdue: overdue ? 'yes' : 'no',
    status_word: t(`commitment.status_${c.status}`),
    overdue_word: overdue ? t('commitment.overdue') : '',
    label: t('commitment.label'),
    promise: c.promise,
    facts: `${t('commitment.department', { dept: c.department })} · ${t('commitment.due', { due: dueText(c.due) })}`,
    result: c.result ? t('commitment.result', { result: c.result }) : '',
    history: history.length > 0,
  });
  el.querySelector('.c-history')?.append(...history.map((p) => fill('commitment-step', {
    step_meta: [date(p.at, tz), t(`commitment.status_${p.status}`),
      p.due ? t('commitment.new_due', { due: dueText(p.due) }) : ''].filter(Boolean).join(' · '),
    step_note: p.note,
  })));
  return el;
}

function field(id, label, input) {
  return [h('label', { htmlFor: id }, label), input];
}

/**
 * The inline form of a `commitment` or `progress` request for question q: its fields, and
 * submit(), which sends the request through send(fields) and says whether it was done.
 */
export function commitmentFields(kind, q, uid, send) {
  const note = h('textarea', { id: `${uid}-note`, rows: 2, maxLength: 1000 });
  const due = h('input', { id: `${uid}-due`, type: 'date' });
  if (kind === 'commitment') {
    const dept = h('input', { id: `${uid}-dept`, maxLength: 100, value: q.department || '' });
    const promise = h('textarea', { id: `${uid}-promise`, rows: 2, maxLength: 1000 });
    return {
      fields: [...field(`${uid}-dept`, t('commitment.f_department'), dept),
        ...field(`${uid}-promise`, t('commitment.f_promise'), promise),
        ...field(`${uid}-due`, t('commitment.f_due'), due)],
      submit: () => send({ department: dept.value.trim(), promise: promise.value.trim(), due: due.value }),
    };
  }
  const status = h('select', { id: `${uid}-status` }, STATUSES.map((s) => h('option', { value: s }, t(`commitment.status_${s}`))));
  const dueRow = h('div', { class: 'c-due-row', hidden: true }, field(`${uid}-due`, t('commitment.f_new_due'), due));
  status.addEventListener('change', () => {
    dueRow.hidden = status.value !== 'postponed';
  });
  return {
    fields: [...field(`${uid}-status`, t('commitment.f_status'), status), dueRow,
      ...field(`${uid}-note`, t('commitment.f_note'), note)],
    submit: () => send({ status: status.value, note: note.value.trim(), ...(status.value === 'postponed' ? { due: due.value } : {}) }),
  };
}
