/**
 * What a commitment (承诺事项) looks like, on every page that shows one, and the staff forms
 * that record one or report its progress.
 *
 * The server keeps the record (live/commitments.py; each event carries the question with its
 * `commitment`) and decides whether it is overdue, by its own clock in the session's timezone:
 * pages only show what they are given. The board and the receipt lookup are rendered by the
 * server (live/templates/parts.html, `commitment`, the same markup); this draws it where the page
 * follows the live stream (我的问题, the moderator page). Every string a person typed goes in
 * through text nodes (h()).
 */
import { date, t } from './i18n.js';
import { h } from './ui.js';

export const STATUSES = ['in_progress', 'done', 'postponed'];

/** A due day (YYYY-MM-DD) as a date in the reader's language: it is a day, not a moment. */
export function dueText(due) {
  const [y, m, d] = due.split('-').map(Number);
  return date(Date.UTC(y, m - 1, d, 12), 'UTC');
}

/** The commitment c; overdue as the server said (null where the page has no verdict). */
export function commitmentView(c, tz, overdue = null) {
  return h('div', { class: 'commitment', dataset: { status: c.status, overdue: overdue ? 'yes' : 'no' } },
    h('p', { class: 'c-head' },
      h('span', { class: 'chip c-status', dataset: { status: c.status } }, t(`commitment.status_${c.status}`)),
      overdue ? h('span', { class: 'chip c-overdue' }, t('commitment.overdue')) : null,
      h('span', { class: 'c-label' }, t('commitment.label'))),
    h('p', { class: 'c-promise' }, c.promise),
    h('p', { class: 'meta c-facts' }, t('commitment.department', { dept: c.department }), ' · ',
      t('commitment.due', { due: dueText(c.due) })),
    c.result ? h('p', { class: 'c-result' }, t('commitment.result', { result: c.result })) : null,
    c.history && c.history.length ? h('ol', { class: 'c-history' }, c.history.map((p) => h('li', {},
      h('span', { class: 'meta' }, `${date(p.at, tz)} · ${t(`commitment.status_${p.status}`)}`,
        p.due ? ` · ${t('commitment.new_due', { due: dueText(p.due) })}` : ''),
      h('span', { class: 'c-note' }, p.note)))) : null);
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
