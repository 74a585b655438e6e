/**
 * The studio's posts (图文直播, live/studio.py) as the public pages show them: the host's remarks,
 * the next question read out, and photos, among the answers (the viewer page and the replay).
 *
 * The server says what a post is (its `post` result, the same for everyone) and what one looks
 * like (the `post` macro, whose template this fills): a remark marked [主持人], an announcement
 * reading its question out (none when the question is no longer published: the server's record
 * leaves it out too, live/lists.py), a photo with its caption from the session's own address.
 */
import { t, time } from './i18n.js';
import { fill } from './ui.js';

/** The answered questions and the posts that stand, newest first: the list the pages show.
 * answered: questions with an answer; posts: the model's Map; questions: the model's Map. */
export function timeline(answered, posts, questions) {
  const items = answered.map((q) => ({ id: q.id, at: q.answer?.at || 0, q }));
  for (const p of posts.values()) {
    if (p.kind === 'announce' && !questions.get(p.question_id)?.text) continue;
    items.push({ id: `p${p.id}`, at: p.at, post: p });
  }
  return items.sort((a, b) => b.at - a.at);
}

/** One post's element (an li): the page's post template (live/templates/parts.html, `post`)
 * filled. ctx is {sid, tz, questions}. */
export function postItem(p, ctx) {
  const photo = p.kind === 'photo';
  const q = p.kind === 'announce' ? ctx.questions.get(p.question_id) || {} : null;
  return fill('post', {
    key: `p${p.id}`,
    kind: p.kind,
    who: t(photo ? 'post.photo' : 'post.host'),
    at: time(p.at, ctx.tz),
    src: photo ? `/s/${ctx.sid}/${p.url}` : '',
    width: photo ? String(p.width) : null,
    height: photo ? String(p.height) : null,
    alt: photo ? p.caption || t('post.photo') : null,
    text: photo ? p.caption || '' : q ? t('post.announce', { name: q.name || '' }) : p.text || '',
    question: q?.text || '',
  });
}
