"""Qingting settings, read from the environment.

Every value comes from an environment variable with a safe default; a malformed value
stops the process with a message naming the variable instead of being guessed at.

QINGTING_DATA_DIR   where the SQLite file, the secret key, attachments and models live (./var)
DATABASE_URL        sqlite:///path or postgres://user:pass@host:port/name (default: SQLite in the data dir)
QINGTING_DEBUG      1 to turn DEBUG on (off by default)
QINGTING_ALLOWED_HOSTS  comma-separated host names (default: localhost names only)
QINGTING_SECURE     1 behind HTTPS: secure cookies, HSTS, SSL redirect
REDIS_URL           redis://… — cache and Celery broker; without it a local cache and in-process jobs
QINGTING_EMAIL_*    SMTP settings (HOST, PORT, USER, PASSWORD, TLS, FROM)
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(url: str, data_dir: Path) -> dict:
    """Turn DATABASE_URL into Django's DATABASES['default'] (SQLite or PostgreSQL)."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative/or/absolute.db ; sqlite:////abs/path.db
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            name = "/" + path.lstrip("/")  # sqlite:////abs/path.db
        else:
            name = path[1:] if path.startswith("/") else path  # sqlite:///relative.db
        if not name:
            raise ImproperlyConfigured(f"DATABASE_URL={url!r} names no SQLite file")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
                ),
            },
            "TEST": {"NAME": None},
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        if not parsed.path or parsed.path == "/":
            raise ImproperlyConfigured(f"DATABASE_URL={url!r} names no database")
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path[1:]),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": _env_int("QINGTING_DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL={url!r}: unsupported scheme {scheme!r} (use sqlite:/// or postgres://)"
    )


def _secret_key(data_dir: Path) -> str:
    from_env = os.environ.get("QINGTING_SECRET_KEY")
    if from_env:
        return from_env
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    tmp = key_file.with_suffix(".tmp")
    tmp.write_text(key)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, key_file)  # atomic create-if-absent: two processes agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return key_file.read_text().strip()


SRC_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("QINGTING_DATA_DIR") or "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = _secret_key(DATA_DIR)
DEBUG = _env_bool("QINGTING_DEBUG", False)
ALLOWED_HOSTS = _env_list("QINGTING_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = _env_list("QINGTING_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves its API docs (Swagger UI) from local static files, not a CDN
    "qingting.core",
    "qingting.accounts",
    "qingting.complaints",
]
# Feature apps join when their folder is a Django app (has apps.py): sla, notify, intake …
_DISABLED_APPS = set(_env_list("QINGTING_DISABLED_APPS", []))
for _app in ("sla", "notify", "intake", "analytics", "crisis", "resolution", "coaching", "training"):
    if (SRC_DIR / _app / "apps.py").exists() and _app not in _DISABLED_APPS:
        INSTALLED_APPS.append(f"qingting.{_app}")
EXTRA_APPS = _env_list("QINGTING_EXTRA_APPS", [])
INSTALLED_APPS += EXTRA_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "qingting.core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "qingting.core.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "qingting.urls"
WSGI_APPLICATION = "qingting.wsgi.application"
ASGI_APPLICATION = "qingting.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "complaints:queue"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SRC_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "qingting.core.context.product",
            ],
        },
    }
]

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'qingting.sqlite3'}", DATA_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) speed up PostgreSQL; SQLite ignores the extra columns, as intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "qingting"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [SRC_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("QINGTING_STATIC_ROOT") or DATA_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Front-end libraries (htmx, ECharts) are installed from the npm registry at setup
# (`npm install` in the repository root) and served locally; never from a CDN.
_ASSETS = Path(os.environ.get("QINGTING_ASSETS_DIR") or SRC_DIR.parent.parent / "node_modules")
STATICFILES_DIRS = [
    (prefix, _ASSETS / sub)
    for prefix, sub in (("vendor/htmx", "htmx.org/dist"), ("vendor/echarts", "echarts/dist"))
    if (_ASSETS / sub).is_dir()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Attachments live outside the web root and are served only through an access check.
ATTACHMENTS_DIR = DATA_DIR / "attachments"
ATTACHMENT_MAX_BYTES = _env_int("QINGTING_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = _env_int("QINGTING_MAX_REQUEST_BYTES", 5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Security defaults
SECURE = _env_bool("QINGTING_SECURE", False)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 3600
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGIN_RATE_LIMIT = _env_int("QINGTING_LOGIN_RATE_LIMIT", 10)  # attempts per 5 minutes per IP+user

EMAIL_HOST = os.environ.get("QINGTING_EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("QINGTING_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("QINGTING_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("QINGTING_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("QINGTING_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("QINGTING_EMAIL_FROM", "qingting@localhost")

QINGTING_HOTLINE = os.environ.get("QINGTING_HOTLINE", "400-000-0000")
QINGTING_ENFORCE_APPROVAL_LIMITS = _env_bool("QINGTING_ENFORCE_APPROVAL_LIMITS", True)
QINGTING_ORG_NAME = os.environ.get("QINGTING_ORG_NAME", "倾听 Qingting")
# Dashboard facts refreshed inside the complaint's transaction instead of right after it, in the
# background (slower registration; for tests and debugging).
QINGTING_ANALYTICS_INLINE = _env_bool("QINGTING_ANALYTICS_INLINE", False)

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("QINGTING_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
