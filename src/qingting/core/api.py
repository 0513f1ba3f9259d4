"""The project's NinjaAPI: auth (bearer token or session), and one error shape for everything.

Errors are `{"error": {"code", "message", "message_zh", "message_en", "fields"}}` with a 4xx
status; `message` follows the request language (Accept-Language / the UI language).
"""
from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils import timezone, translation
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from qingting.accounts.models import ApiToken, hash_token
from qingting.core.errors import ServiceError

log = logging.getLogger(__name__)


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        if not token or len(token) > 200:
            return None
        row = ApiToken.objects.select_related("user").filter(token_hash=hash_token(token), revoked_at__isnull=True).first()
        if row is None or not row.user.is_active:
            return None
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 300:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return row.user


class SessionAuth(APIKeyCookie):
    """The pages' session (with CSRF on unsafe methods)."""

    param_name = "sessionid"

    def __init__(self):
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


def _lang(request) -> str:
    return (getattr(request, "LANGUAGE_CODE", None) or translation.get_language() or "zh-hans")


def error_body(code: str, zh: str, en: str, request, fields=None, extra=None) -> dict:
    lang = _lang(request)
    body = {"code": code, "message": en if lang.startswith("en") else zh, "message_zh": zh, "message_en": en,
            "fields": fields or {}}
    if extra:
        body.update(extra)
    return {"error": body}


def build_api() -> NinjaAPI:
    api = NinjaAPI(title="倾听 Qingting API", version="1", urls_namespace="api",
                   description="Complaint and crisis handling. Errors: {\"error\": {\"code\", \"message\", \"fields\"}}",
                   auth=[TokenAuth(), SessionAuth()])

    @api.exception_handler(ServiceError)
    def service_error(request, exc: ServiceError):
        return api.create_response(request, exc.to_dict(_lang(request)), status=exc.status)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        fields = {}
        for err in exc.errors:
            loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload", "query", "filters", "data")]
            fields[".".join(loc) or "body"] = err.get("msg", "invalid")
        return api.create_response(request, error_body(
            "invalid", "请求数据有误：" + "；".join(f"{k}: {v}" for k, v in fields.items()),
            "Invalid request: " + "; ".join(f"{k}: {v}" for k, v in fields.items()), request, fields), status=422)

    @api.exception_handler(AuthenticationError)
    def auth_error(request, exc):
        return api.create_response(request, error_body(
            "unauthorized", "需要登录或有效的 API 令牌（Authorization: Bearer …）",
            "Authentication required (session or Authorization: Bearer <token>)", request), status=401)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        status = exc.status_code
        if status == 400 and "parse" in str(exc).lower():
            return api.create_response(request, error_body(
                "bad_json", "请求体不是有效的 JSON（UTF-8）", "The request body is not valid JSON (UTF-8)", request), status=400)
        if status == 403:
            return api.create_response(request, error_body(
                "forbidden", "没有权限（或 CSRF 校验失败）", "Forbidden (or CSRF check failed)", request), status=403)
        return api.create_response(request, error_body("http_error", str(exc), str(exc), request), status=status)

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return api.create_response(request, error_body(
            "too_large", "请求体过大", "The request body is too large", request), status=413)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, error_body("not_found", "未找到", "Not found", request), status=404)

    @api.exception_handler(Exception)
    def unexpected(request, exc):
        log.exception("unhandled API error")
        return api.create_response(request, error_body(
            "server_error", "服务器内部错误，请稍后再试", "Internal server error", request), status=500)

    return api
