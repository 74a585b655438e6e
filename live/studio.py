"""The studio's own lines (图文直播): the host's remarks, the next question read out, and photos.

A 区长在线 evening has a host (主持人) who opens and closes it, introduces the guest and reads
out the citizens' questions; the published record (访谈实录) is a run of [主持人] and [嘉宾]
lines, with photos from the studio. These are *posts*: events on the session's log like any
other, delivered through the one feed, whose meaning is in :func:`live.state.apply` (a
:class:`~live.state.Post` in ``state.posts``). This module decides them, purely, like
:func:`live.commands.decide`:

- ``remark`` (``text``): the host says something not tied to a question (``host.remarked``);
- ``announce`` (``question_id``): the host reads out the next question (``host.announced``);
  only a published question that is not answered yet (``approved``) may be announced;
- ``photo``: a studio photo with its caption (``photo.posted``), checked and re-encoded by
  :mod:`live.photos` before it gets here (the command has no wire form: only the upload route
  makes it);
- ``withdraw_post`` (``post_id``): any post taken back (``post.withdrawn``): it disappears from
  every view, and a photo's bytes are deleted.

Who may: the host, a moderator standing in for one, admins (:data:`live.auth.PERMISSIONS`).
Once archived, a session takes no new post (the record is final: :data:`live.closing.FINAL`),
but a post may still be withdrawn: a photo that shows what it must not is taken down whenever
it is found.
"""

from __future__ import annotations

from .events import JSON, NewEvent
from .exceptions import Conflict, NotFound
from .state import PHOTO_FIELDS, Post, State

COMMANDS = ("remark", "announce", "photo", "withdraw_post")
MAX_CAPTION = 200
"""The longest photo caption, in characters (a remark's limit is ``LIVE_MAX_REMARK_CHARS``)."""


def _next_id(state: State) -> int:
    return next(reversed(state.posts), 0) + 1


def decide(state: State, command: str, args: JSON, actor: str, now: int) -> tuple[list[NewEvent], JSON]:
    """The events of one studio command and its acknowledgement's result, or raise."""
    private = {"by": actor}
    if command == "withdraw_post":
        post = state.posts.get(args["post_id"])
        if post is None or post.withdrawn:
            raise NotFound("post_not_found", "该条内容不存在或已撤回", "No such post", id=args["post_id"])
        return [NewEvent("post.withdrawn", {"post_id": post.id}, None, private)], {
            "post_id": post.id,
            "photo": post.photo["photo"] if post.photo else None,
        }
    pid = _next_id(state)
    if command == "remark":
        post = Post(pid, "remark", now, text=args["text"])
        kind = "host.remarked"
    elif command == "announce":
        q = state.question(args["question_id"])
        if q.status != "approved":
            raise Conflict(
                "not_announceable",
                "只能预告已公开、尚未回答的问题",
                "Only a published question not yet answered can be announced",
                id=q.id,
                status=q.status,
            )
        post = Post(pid, "announce", now, question_id=q.id)
        kind = "host.announced"
    else:
        post = Post(pid, "photo", now, photo={k: args[k] for k in PHOTO_FIELDS})
        kind = "photo.posted"
    return [NewEvent(kind, {"post": post.to_wire()}, None, private)], {"post_id": pid}
