"""Who is acting: roles, secrets, and the signed device cookie.

Staff secrets are random 32-byte tokens, so a plain SHA-256 is a sound hash
(no dictionary to attack) and lets a lookup compare in constant time. They
travel in a URL *fragment* (``#key=...``), which browsers never send to the
server or put in Referer headers, and reach the server in the WebSocket
``hello`` frame or an ``Authorization`` header.

Viewers have no account. A device id, signed with the server's secret
(``itsdangerous``), identifies one browser or client so that votes and limits
hold per device; a forged or edited cookie fails the signature and the
device gets a fresh id, never someone else's.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer

from .store import SessionRow

DEVICE_COOKIE = "live_device"


class Role(enum.StrEnum):
    VIEWER = "viewer"
    MODERATOR = "moderator"
    PRESENTER = "presenter"
    HOST = "host"
    """The programme's host (主持人): remarks, the next question, studio photos (live/studio.py)."""
    ADMIN = "admin"

    @property
    def staff(self) -> bool:
        return self is not Role.VIEWER


PERMISSIONS: dict[str, frozenset[Role]] = {
    "ask": frozenset(Role),
    "mine": frozenset(Role),
    "vote": frozenset(Role),
    "unvote": frozenset(Role),
    **dict.fromkeys(
        (
            "approve",
            "reject",
            "edit",
            "merge",
            "hide",
            "forward",
            "open",
            "close",
            "extend",
            "set_moderation",
        ),
        frozenset({Role.MODERATOR, Role.ADMIN}),
    ),
    "answering": frozenset({Role.PRESENTER, Role.MODERATOR, Role.ADMIN}),
    "answer": frozenset({Role.PRESENTER, Role.MODERATOR, Role.ADMIN}),
    **dict.fromkeys(("commitment", "progress"), frozenset({Role.MODERATOR, Role.ADMIN})),
    **dict.fromkeys(("release", "withdraw"), frozenset({Role.PRESENTER, Role.MODERATOR, Role.ADMIN})),
    "rate": frozenset(Role),  # only the asker, by device or receipt and secret (live/ratings.py)
    "follow_up": frozenset(Role),
    **dict.fromkeys(("settle", "carry_over", "archive"), frozenset({Role.MODERATOR, Role.ADMIN})),
    "archive_override": frozenset({Role.ADMIN}),
    # The studio (live/studio.py): the host's lines and photos. A moderator may stand in for a
    # host (a small team has none of its own); the official answers and does not post.
    **dict.fromkeys(
        ("remark", "announce", "photo", "withdraw_post"), frozenset({Role.HOST, Role.MODERATOR, Role.ADMIN})
    ),
}
"""Which roles may send which command; checked on the server for every transport."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return bool(stored_hash) and hmac.compare_digest(hash_token(token), stored_hash)


def role_for(token: str | None, session: SessionRow | None, admin_hash: str) -> Role:
    """The role a token grants, for one session (or none, for admin-only routes)."""
    if not token:
        return Role.VIEWER
    if token_matches(token, admin_hash):
        return Role.ADMIN
    if session is not None:
        if token_matches(token, session.presenter_hash):
            return Role.PRESENTER
        if token_matches(token, session.moderator_hash):
            return Role.MODERATOR
        if token_matches(token, session.host_hash):
            return Role.HOST
    return Role.VIEWER


@dataclass(frozen=True, slots=True)
class Actor:
    role: Role
    device: str
    ip: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        """How the audit trail and "already handled by" name this actor, never by a secret."""
        return f"{self.role.value}:{self.name or self.device[:6]}"


class Devices:
    """Mints and verifies signed device ids."""

    def __init__(self, secret: str) -> None:
        self._signer = Signer(secret, salt="live.device")
        self._forms = Signer(secret, salt="live.form")

    def mint(self) -> tuple[str, str]:
        device = secrets.token_hex(12)
        return device, self._signer.sign(device).decode()

    def verify(self, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            return self._signer.unsign(signed).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def form_token(self, device: str) -> str:
        """The token a page's form carries for this device: its CSRF token (docs/pages.md).

        Bound to the signed device cookie (``HttpOnly``, ``SameSite=Lax``) by a MAC under
        the server's secret with a salt of its own: another site can neither read it (the
        same-origin policy keeps our page from it) nor make it (it needs the secret), and
        no second cookie or stored session is needed. It is the same for every page of
        one device, so two tabs and the back button keep working.
        """
        return self._forms.get_signature(device).decode()

    def form_token_ok(self, device: str, token: str) -> bool:
        return hmac.compare_digest(self.form_token(device).encode(), token.encode())

    def receipt(self, session_id: int, question_id: int) -> str:
        """A receipt number (回执编号): readable, and unguessable without the server's secret."""
        mac = self._signer.get_signature(f"receipt:{session_id}:{question_id}").decode()
        code = "".join(c for c in mac.upper() if c.isalnum() and c not in "0O1IL")[:6]
        return f"{session_id}-{question_id}-{code}"

    def parse_receipt(self, receipt: str) -> tuple[int, int] | None:
        if not receipt.isascii():  # compare_digest takes ASCII strings only: anything else is no receipt
            return None
        parts = receipt.strip().upper().split("-")
        if len(parts) != 3 or not all(p.isdigit() and len(p) <= 12 for p in parts[:2]):
            return None
        sid, qid = int(parts[0]), int(parts[1])
        if not hmac.compare_digest(self.receipt(sid, qid), f"{sid}-{qid}-{parts[2]}"):
            return None
        return sid, qid

    def seal(self, secret: str) -> str:
        """An asker's secret as it is stored: keyed with the server's secret, then hashed.

        Why keyed: the secret is short enough to type on a phone (about 39 bits, see
        :mod:`live.ratings`), so a plain hash in an exported log would be a small search
        away; without the installation's secret, the stored form is none.
        """
        return self._signer.get_signature(f"asker:{secret}").decode()
