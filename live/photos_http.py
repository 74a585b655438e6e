"""The studio photos' routes: the upload (multipart) and the image (:mod:`live.photos`).

``POST /api/sessions/{id}/photos``: a ``multipart/form-data`` body with the file as ``photo``
and an optional ``caption``, sent with a staff key (``Authorization: Bearer``) like every other
staff request over HTTP; the answer is the ``photo`` command's acknowledgement. Refusals are
the usual JSON errors, and a broken form is ``bad_photo`` like a broken image: the server goes
on either way. ``GET /s/{id}/photos/{photo}.jpg``: the image, for as long as its post stands.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import DEVICE_COOKIE, Actor
from .exceptions import BadRequest
from .photos import bad_photo
from .routes import request_role, services

IMMUTABLE = "public, max-age=31536000, immutable"
"""A photo's address names one image for good (a random id, never reused)."""


async def upload(request: Request) -> Response:
    live = services(request)
    sid = request.path_params["session_id"]
    role = await request_role(request, sid)
    live.photos.check(role)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest(
            "bad_photo", "请以表单上传照片", "Upload the photo as multipart/form-data", field="photo"
        )
    try:
        form = await request.form(max_files=1, max_fields=4)
    except Exception as exc:  # python-multipart's own errors: a malformed form, never a crash
        raise bad_photo(f"the form does not parse: {type(exc).__name__}") from None
    try:
        part, caption = form.get("photo"), form.get("caption")
        if part is None or isinstance(part, str):
            raise BadRequest("missing_field", "请选择照片", "Choose a photo", field="photo")
        data = await part.read()
    finally:
        await form.close()
    device = live.devices.verify(request.cookies.get(DEVICE_COOKIE)) or "staff"
    ip = request.client.host if request.client else ""
    result = await live.photos.upload(
        sid, Actor(role, device, ip), data, caption if isinstance(caption, str) else ""
    )
    return JSONResponse({"type": "ack", "re": None, "result": result})


async def image(request: Request) -> Response:
    live = services(request)
    photo = request.path_params["photo"]
    data = await live.photos.image(request.path_params["session_id"], photo)
    return Response(data, media_type="image/jpeg", headers={"cache-control": IMMUTABLE})
