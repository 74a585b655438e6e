/**
 * The studio's posts (图文直播, live/studio.py) as the public pages show them: the host's remarks,
 * the next question read out, and photos, among the answers (the viewer page and the replay).
 *
 * The server says what a post is (its `post` result, the same for everyone); this only lays one
 * out, as text: a remark marked [主持人], an announcement reading its question out (none when the
 * question is no longer published: the server's record leaves it out too), a photo with its
 * caption from the session's own address.
 */
import { t, time } from './i18n.js';
import { h } from './ui.js';

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

/** One post's element (an li), filled: ctx is {sid, tz, questions}. */
export function postItem(li, p, ctx) {
  li.className = 'q post';
  li.dataset.kind = p.kind;
  const who = h('p', { class: 'post-who' }, t(p.kind === 'photo' ? 'post.photo' : 'post.host'), ' ',
    h('span', { class: 'meta' }, time(p.at, ctx.tz)));
  if (p.kind === 'photo') {
    li.replaceChildren(h('figure', { class: 'photo' },
      h('img', { src: `/s/${ctx.sid}/${p.url}`, width: p.width, height: p.height, alt: p.caption || t('post.photo'),
        loading: 'lazy', decoding: 'async' }),
      h('figcaption', {}, who, p.caption ? h('span', { class: 'post-text' }, p.caption) : null)));
    return li;
  }
  if (p.kind === 'announce') {
    const q = ctx.questions.get(p.question_id) || {};
    li.replaceChildren(who, h('p', { class: 'post-text' }, t('post.announce', { name: q.name || '' })),
      h('p', { class: 'q-text' }, q.text || ''));
    return li;
  }
  li.replaceChildren(who, h('p', { class: 'post-text' }, p.text || ''));
  return li;
}
