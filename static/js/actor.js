/**
 * Who did something, as a person reads it, on the staff pages (the audit log, held answers,
 * "already handled by").
 *
 * The server names an actor by role and then a name or a short device id (live/auth.py,
 * Actor.label: "moderator:50ce20"); shown as the role's name and the rest ("审核员 50ce20").
 * Every role, and every actor that is not a person (the broadcast delay's clock, live/review.py),
 * has a string of its own: tests/browser/test_static_rules.py checks them against the server's
 * definitions, so a new role cannot reach this page as a raw code.
 */
import { has, t } from './i18n.js';

export function actor(who) {
  const text = String(who || '');
  if (has(`audit.actor.${text}`)) return t(`audit.actor.${text}`);
  const at = text.indexOf(':');
  const role = at < 0 ? text : text.slice(0, at);
  return has(`audit.role.${role}`) ? `${t(`audit.role.${role}`)} ${at < 0 ? '' : text.slice(at + 1)}`.trim() : text;
}
