"""Studio photos (图文直播): checked, cleaned of their metadata, kept with the session, served.

A host or moderator uploads a photo from the studio with a caption
(``POST /api/sessions/{id}/photos``, :mod:`live.photos_http`). Before anyone sees it:

1. **Size.** At most ``LIVE_MAX_PHOTO_BYTES``: the upload route alone takes a body that large
   (:mod:`live.middleware`), and a larger one is refused (``photo_too_large``) before it is read
   when its ``Content-Length`` says so.
2. **Type, by decoding.** Pillow decodes it as JPEG, PNG or WebP, whatever its name or the
   browser's ``Content-Type`` say; anything else, or a file that does not decode whole, is
   ``bad_photo``. One of more than :data:`MAX_PIXELS` pixels is refused before its pixels are
   decoded (a small file can declare a huge image: a decompression bomb).
3. **Re-encoded from its pixels only.** Turned upright by its EXIF orientation, converted to
   sRGB from an embedded colour profile, flattened onto white if it has transparency, shrunk to
   at most :data:`MAX_SIDE` pixels a side, and written as a new JPEG into a new image: no EXIF
   (GPS position, camera and lens serial numbers, times), no XMP or IPTC, no comment, no ICC
   profile survive, since none is copied and the new image has none to carry.
4. **Kept** in the database with its session (:class:`live.store.base.Photos`), under a random
   id, so ``live export``/``import``, ``live copy-to`` and ``live backup`` carry it, and posted as
   ``photo.posted`` (:mod:`live.studio`) with its size, caption and the SHA-256 of the JPEG.
5. **Served** at ``/s/{id}/photos/{photo}.jpg`` while its post stands (immutable: an id names
   one image for good); withdrawn (``withdraw_post``), its bytes are deleted once the withdrawal
   is stored (:meth:`live.sessions.Sessions.handle`) and that address answers 404.

Decoding and encoding run on a worker thread, at most :data:`AT_ONCE` at a time per worker,
so a few large uploads neither block the event loop nor hold many decoded images in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import secrets
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from .auth import PERMISSIONS, Actor, Role
from .events import JSON, now_ms
from .exceptions import BadRequest, Forbidden, NotFound, TooLarge
from .protocol import Command
from .rooms import Rooms
from .sessions import Sessions
from .settings import Settings
from .state import State
from .store import Photos

FORMATS = ("JPEG", "PNG", "WEBP")
"""What a photo may be, as Pillow decodes it: what phones and cameras write."""
MAX_SIDE = 2048
"""The longest side of a stored photo, in pixels: sharp on any screen, ~0.5 MB as a JPEG."""
MAX_PIXELS = 50_000_000
"""The most pixels a photo may declare (a 50-megapixel camera's); more is refused undecoded."""
QUALITY = 85
AT_ONCE = 2
"""Photos decoded at once per worker."""
FORM_SLACK = 65536
"""What the upload's form may add to the file: its boundaries, headers and the caption."""
SRGB = ImageCms.createProfile("sRGB")


def too_large(limit: int) -> TooLarge:
    mb = limit / 1048576
    size = f"{mb:.0f}" if mb >= 10 else f"{mb:.1f}"
    return TooLarge(
        "photo_too_large",
        f"照片过大（最多 {size} MB）",
        f"Photo too large (at most {size} MB)",
        limit=limit,
    )


def bad_photo(why: str) -> BadRequest:
    return BadRequest(
        "bad_photo",
        "无法识别的图片：请上传 JPEG、PNG 或 WebP 格式的照片",
        "Not an image this server takes: upload a JPEG, PNG or WebP photo",
        field="photo",
        why=why,
    )


@dataclass(frozen=True)
class Cleaned:
    """A photo as it is kept: a new JPEG and what its post says of it."""

    jpeg: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jpeg).hexdigest()


def _srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """``im`` in sRGB, from the colour profile ``icc`` it embedded (a phone's Display P3); as it is
    without one, or with one that cannot be read."""
    if not icc or im.mode not in ("RGB", "RGBA"):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(im, source, SRGB, outputMode=im.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im
    return converted if converted is not None else im


def reencode(data: bytes) -> Cleaned:
    """Decode ``data`` as a photo and write it again from its pixels alone, or raise ``bad_photo``."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise bad_photo(f"{opened.width}x{opened.height} pixels, more than {MAX_PIXELS}")
            opened.load()
            upright = ImageOps.exif_transpose(opened)
            im = upright.convert("RGBA") if upright.mode in ("RGBA", "LA", "PA", "P") else upright
            im = _srgb(im, opened.info.get("icc_profile"))
            if im.mode == "RGBA":
                flat = Image.new("RGBA", im.size, "white")
                flat.alpha_composite(im)
                im = flat
            im = im.convert("RGB")
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            clean = Image.new("RGB", im.size)  # a new image: no info, EXIF or profile to carry over
            clean.paste(im)
    except UnidentifiedImageError:
        raise bad_photo("not a JPEG, PNG or WebP image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise bad_photo(f"does not decode: {exc}") from None
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return Cleaned(out.getvalue(), clean.width, clean.height)


class PhotoDesk:
    """Uploads, serving and withdrawal of the studio's photos, over :class:`Sessions` and
    the store's :class:`~live.store.base.Photos`."""

    def __init__(self, store: Photos, rooms: Rooms, sessions: Sessions, settings: Settings) -> None:
        self.store = store
        self.rooms = rooms
        self.sessions = sessions
        self.settings = settings
        self._decoding = asyncio.Semaphore(AT_ONCE)

    @staticmethod
    def check(role: Role) -> None:
        """Refuse a role that may not post photos, before its upload costs any work."""
        if role not in PERMISSIONS["photo"]:
            raise Forbidden(
                "forbidden",
                "您没有权限执行此操作",
                "Your role may not do this",
                command="photo",
                role=role.value,
            )

    async def upload(self, session_id: int, actor: Actor, data: bytes, caption: str) -> JSON:
        """Check, clean and keep one photo, then post it; the ``photo`` command's result."""
        self.check(actor.role)
        if not data:
            raise BadRequest("missing_field", "请选择照片", "Choose a photo", field="photo")
        if len(data) > self.settings.max_photo_bytes:
            raise too_large(self.settings.max_photo_bytes)
        await self.rooms.get(session_id)  # session_not_found before any decoding
        async with self._decoding:
            cleaned = await asyncio.to_thread(reencode, data)
        photo = secrets.token_hex(8)
        await self.store.put_photo(session_id, photo, now_ms(), cleaned.jpeg)
        args = {
            "caption": caption,
            "photo": photo,
            "width": cleaned.width,
            "height": cleaned.height,
            "sha256": cleaned.sha256,
            "bytes": len(cleaned.jpeg),
        }
        try:
            result = await self.sessions.handle(session_id, actor, Command("photo", args))
        except BaseException:
            with contextlib.suppress(Exception):  # never posted: not kept (the refusal is the answer)
                await self.store.drop_photo(session_id, photo)
            raise
        return {**result, "photo": photo, "width": cleaned.width, "height": cleaned.height}

    async def image(self, session_id: int, photo: str) -> bytes:
        """The JPEG of a photo whose post stands, or ``photo_not_found``."""
        room = await self.rooms.get(session_id)

        def standing(state: State) -> bool:
            return any(
                p.photo and p.photo["photo"] == photo and not p.withdrawn for p in state.posts.values()
            )

        if not standing(await room.settled()):  # posted a moment ago through another worker: catch up
            await room.refresh()
            if not standing(await room.settled()):
                raise _missing(photo)
        image = await self.store.get_photo(session_id, photo)
        if image is None:
            raise _missing(photo)
        return image


def _missing(photo: str) -> NotFound:
    return NotFound("photo_not_found", "照片不存在或已撤回", "No such photo", photo=photo[:40])
