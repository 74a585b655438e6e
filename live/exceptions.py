"""One hierarchy for every refusal the server can give.

Each error knows its stable ``code`` (what clients branch on), its HTTP
status, and a human message in Chinese and English, so the WebSocket and the
HTTP layer report the same failure the same way::

    LiveError
    ├── BadRequest          400  malformed frame or field
    ├── Unauthorized        401  no or wrong credentials
    ├── Forbidden           403  role may not do this
    ├── NotFound            404  no such session / question / receipt
    ├── TimedOut            408  a request's body came too slowly
    ├── Conflict            409  state forbids it (closed window, already handled)
    ├── TooLarge            413  frame or text over its limit
    ├── RateLimited         429  too many requests; ``retry_after`` seconds
    └── Unavailable         503  store cannot commit; nothing was acknowledged
"""

from __future__ import annotations

from typing import Any


class LiveError(Exception):
    status = 500
    code = "internal"
    zh = "服务器内部错误"
    en = "Internal server error"

    def __init__(
        self, code: str | None = None, zh: str | None = None, en: str | None = None, **details: Any
    ) -> None:
        self.code = code or type(self).code
        self.zh = zh or type(self).zh
        self.en = en or type(self).en
        self.details = details
        super().__init__(f"{self.code}: {self.en}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": {"zh": self.zh, "en": self.en}}
        if self.details:
            out["details"] = self.details
        return out


class BadRequest(LiveError):
    status, code, zh, en = 400, "bad_request", "请求格式不正确", "Malformed request"


class Unauthorized(LiveError):
    status, code, zh, en = 401, "unauthorized", "需要有效的凭证", "Valid credentials required"


class Forbidden(LiveError):
    status, code, zh, en = 403, "forbidden", "您没有权限执行此操作", "Your role may not do this"


class NotFound(LiveError):
    status, code, zh, en = 404, "not_found", "未找到", "Not found"


class TimedOut(LiveError):
    status, code, zh, en = 408, "timed_out", "请求超时", "Request timed out"


class Conflict(LiveError):
    status, code, zh, en = 409, "conflict", "当前状态不允许此操作", "Not allowed in the current state"


class TooLarge(LiveError):
    status, code, zh, en = 413, "too_large", "内容过长", "Too large"


class RateLimited(LiveError):
    status, code, zh, en = 429, "rate_limited", "操作过于频繁，请稍后再试", "Too many requests"


class Unavailable(LiveError):
    status, code, zh, en = 503, "unavailable", "暂时无法保存，请稍后重试", "Could not store; try again"
