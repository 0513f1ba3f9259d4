"""One error type for services, turned into the API's error shape in one place.

Messages are bilingual: the API answers `{"error": {"code", "message", "message_en",
"fields"}}`; `message` follows the request language (Chinese by default).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Problem:
    """One thing that is wrong or missing, with a stable code and both languages."""

    code: str
    zh: str
    en: str
    field: str | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.zh, "message_en": self.en, "field": self.field}


class ServiceError(Exception):
    """A rule said no. `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, zh: str, en: str, *, code: str | None = None, fields: dict | None = None,
                 problems: list[Problem] | None = None, status: int | None = None):
        super().__init__(en)
        self.zh, self.en = zh, en
        self.code = code or self.code
        self.fields = fields or {}
        self.problems = problems or []
        if status is not None:
            self.status = status

    def message(self, lang: str = "zh") -> str:
        return self.en if lang.startswith("en") else self.zh

    def to_dict(self, lang: str = "zh") -> dict:
        body = {"code": self.code, "message": self.message(lang), "message_zh": self.zh,
                "message_en": self.en, "fields": self.fields}
        if self.problems:
            body["missing"] = [p.to_dict() for p in self.problems]
        return {"error": body}


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class PermissionDenied(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"
