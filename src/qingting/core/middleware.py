"""Language choice and the security headers the framework does not set on its own."""
from django.conf import settings
from django.utils import translation

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(("/api/v1/docs", "/admin/")):
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if getattr(settings, "SECURE", False):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


class LanguageMiddleware:
    """Chinese unless the user chose otherwise.

    Pages follow the language the user picked (the language cookie set by /i18n/setlang/),
    never the browser's Accept-Language, so the workbench is Chinese by default. API
    clients get error messages in their Accept-Language (both languages are always in the
    error body anyway).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if request.path.startswith("/api/") and not lang:
            accept = request.headers.get("Accept-Language", "").lower()
            lang = "en" if accept.startswith("en") else None
        if lang not in self.supported:
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", lang)
        response.headers.setdefault("Vary", "Cookie")
        translation.deactivate()
        return response
