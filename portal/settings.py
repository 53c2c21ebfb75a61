"""Folio's one settings module, driven by the environment (README "Configuration").

Every value has a default that works on a fresh clone with nothing but Python: SQLite, local files
and an embedded Redis-compatible server, all under ``FOLIO_DATA_DIR``. PostgreSQL
(``DATABASE_URL``), a real Redis (``REDIS_URL``) and S3 (``FOLIO_STORAGE=s3``) are configuration,
never code changes.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import dj_database_url

from portal.env import (
    ImproperEnvironment,
    env_bool,
    env_int,
    env_int_list,
    env_list,
    env_str,
    private_dir,
    private_file,
    secret_key_from,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("FOLIO_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# Owner only, set explicitly whatever the umask: the database, the uploads, the queue's password
# and the signing key live here (docs/security.md, finding 7).
private_dir(DATA_DIR)

APP_VERSION = "0.1.0"

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or secret_key_from(DATA_DIR)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
# Production refuses a key that Django itself would call insecure.
if not DEBUG and SECRET_KEY.startswith("django-insecure-"):
    raise ImproperEnvironment("DJANGO_SECRET_KEY must not be an insecure development key.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "django_htmx",
    "template_partials",
    "portal",
    "templates_app",
    "documents",
    "portal.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SQLITE_PATH = DATA_DIR / "folio.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}",
        conn_max_age=env_int("FOLIO_DB_CONN_MAX_AGE", 0, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; the timeout waits out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    if not env_str("DATABASE_URL"):
        # Created 0600 before SQLite opens it; its -wal and -shm files copy the mode.
        private_file(SQLITE_PATH)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `collectstatic` target. The data directory is private (0700), so a proxy that serves /static/
# itself needs FOLIO_STATIC_ROOT outside it.
STATIC_ROOT = Path(env_str("FOLIO_STATIC_ROOT") or str(DATA_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Files -------------------------------------------------------------------------------------
FOLIO_STORAGE = env_str("FOLIO_STORAGE", "local").lower()
MEDIA_ROOT = DATA_DIR / "files"
MEDIA_URL = "/media/"
if FOLIO_STORAGE == "local":
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(MEDIA_ROOT),
            # Uploads and generated documents: owner only, whatever the umask.
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
elif FOLIO_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperEnvironment("FOLIO_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
    AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "region_name": AWS_S3_REGION_NAME,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 3600,
        },
    }
else:
    raise ImproperEnvironment(f"FOLIO_STORAGE must be 'local' or 's3', got {FOLIO_STORAGE!r}")

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

FOLIO_MAX_UPLOAD_MB = env_int("FOLIO_MAX_UPLOAD_MB", 50, minimum=1)
# Stored source files per organization (every version counts); 0 or unset = no quota.
FOLIO_ORG_STORAGE_QUOTA_MB = env_int("FOLIO_ORG_STORAGE_QUOTA_MB", 0, minimum=0)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Larger uploads are spooled to the temporary folder; a full one is a 503 (portal/uploadspool.py).
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "portal.uploadspool.SpoolingUploadHandler",
]
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("FOLIO_MAX_UPLOAD_FILES", 20, minimum=1)

# --- Limits on what a source may cost (docs/limits.md) ------------------------------------------
FOLIO_MAX_PDF_PAGES = env_int("FOLIO_MAX_PDF_PAGES", 2000, minimum=1)
FOLIO_MAX_EXTRACTED_CHARS = env_int("FOLIO_MAX_EXTRACTED_CHARS", 20_000_000, minimum=1000)
FOLIO_MAX_ZIP_ENTRIES = env_int("FOLIO_MAX_ZIP_ENTRIES", 2000, minimum=10)
FOLIO_MAX_ZIP_MEMBER_MB = env_int("FOLIO_MAX_ZIP_MEMBER_MB", 100, minimum=1)
FOLIO_MAX_ZIP_TOTAL_MB = env_int("FOLIO_MAX_ZIP_TOTAL_MB", 300, minimum=1)
FOLIO_MAX_ZIP_RATIO = env_int("FOLIO_MAX_ZIP_RATIO", 200, minimum=10)
FOLIO_EXTRACT_TIMEOUT = env_int("FOLIO_EXTRACT_TIMEOUT", 120, minimum=1)
FOLIO_EXTRACT_MEMORY_MB = env_int("FOLIO_EXTRACT_MEMORY_MB", 1536, minimum=128)
FOLIO_EXTRACT_PARALLEL = env_int("FOLIO_EXTRACT_PARALLEL", 2, minimum=1)
FOLIO_JOB_TIMEOUT = env_int("FOLIO_JOB_TIMEOUT", 900, minimum=10)
FOLIO_MAX_ACTIVE_JOBS_PER_ORG = env_int("FOLIO_MAX_ACTIVE_JOBS_PER_ORG", 20, minimum=1)
FOLIO_MAX_FILES_PER_REQUEST = env_int("FOLIO_MAX_FILES_PER_REQUEST", 50, minimum=1)
FOLIO_MAX_QUEUED_JOBS = env_int("FOLIO_MAX_QUEUED_JOBS", 500, minimum=1)
FOLIO_MAX_ATTEMPTS = env_int("FOLIO_MAX_ATTEMPTS", 2, minimum=1)
FOLIO_STALE_JOB_SECONDS = env_int("FOLIO_STALE_JOB_SECONDS", 300, minimum=5)

# --- Queue -------------------------------------------------------------------------------------
REDIS_URL_SETTING = env_str("REDIS_URL")
EMBEDDED_REDIS_URL_FILE = DATA_DIR / "redis.url"


def _redis_url() -> str:
    if REDIS_URL_SETTING:
        return REDIS_URL_SETTING
    if EMBEDDED_REDIS_URL_FILE.exists():
        return EMBEDDED_REDIS_URL_FILE.read_text().strip()
    # Nothing recorded yet: `make run` (or the test fixture) starts the embedded server and
    # records its URL; until then the queue is reported as down, never silently pointed elsewhere.
    return "redis://127.0.0.1:1/0"


def redis_queue_config(url: str) -> dict:
    """Turn a redis:// URL into django-rq's HOST/PORT form, which honours client kwargs."""
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"}:
        raise ImproperEnvironment(f"REDIS_URL must start with redis:// or rediss://, got {url!r}")
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return {
        "HOST": parsed.hostname or "127.0.0.1",
        "PORT": parsed.port or 6379,
        "DB": int((parsed.path or "/0").lstrip("/") or 0),
        "USERNAME": unquote(parsed.username) if parsed.username else None,
        "PASSWORD": unquote(parsed.password) if parsed.password else None,
        "SSL": parsed.scheme == "rediss",
        # JSON, never pickle: a job read from Redis is data, not code (docs/security.md, 1).
        "SERIALIZER": "rq.serializers.JSONSerializer",
        "DEFAULT_TIMEOUT": FOLIO_JOB_TIMEOUT,
        # redis-py blocks forever on a frozen server by default: bound every call.
        "REDIS_CLIENT_KWARGS": {
            "socket_connect_timeout": 1,
            "socket_timeout": 2,
            "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
            "health_check_interval": 15,
        },
    }


RQ_QUEUES = {"default": redis_queue_config(_redis_url())}
# The worker class that preloads the pipeline, heartbeats and reconciles, even for a plain
# `manage.py rqworker` without --worker-class.
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "documents.worker.FolioWorker"}
# django-rq's admin integration (/admin/django_rq/...) checks only is_staff, and managers are
# staff: it stays off. The dashboard is mounted at /admin/rq/ for superusers only (portal/urls.py).
RQ_SHOW_ADMIN_LINK = False

# --- API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["portal.auth.OrgJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["portal.auth.IsOrganizationMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "portal.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {"login": env_str("FOLIO_LOGIN_RATE", "20/min")},
}
# X-Forwarded-For hops appended by proxies we trust; 0: the client is REMOTE_ADDR (the header is
# ignored, so it cannot be rotated to dodge a limit). portal/ratelimit.py reads it too.
FOLIO_TRUSTED_PROXIES = env_int("FOLIO_TRUSTED_PROXIES", 0, minimum=0)
REST_FRAMEWORK["NUM_PROXIES"] = FOLIO_TRUSTED_PROXIES

FOLIO_ACCESS_TOKEN_MINUTES = max(5, env_int("FOLIO_ACCESS_TOKEN_MINUTES", 30))
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=FOLIO_ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "CHECK_USER_IS_ACTIVE": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "LEEWAY": 10,
    "TOKEN_OBTAIN_SERIALIZER": "portal.auth.OrgTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "portal.auth.OrgTokenRefreshSerializer",
}
# A refresh chain (one login, refreshed again and again) ends this long after the login.
FOLIO_REFRESH_CHAIN_HOURS = env_int("FOLIO_REFRESH_CHAIN_HOURS", 168, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "Folio API",
    "DESCRIPTION": "Draft regulatory documents from source files; Artos-compatible routes.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's static files: /api/docs/ loads nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that two fields share, named once (the schema validates without warnings).
    "ENUM_NAME_OVERRIDES": {
        "ReviewCommentStatusEnum": [
            "acted_on",
            "passed_to_llm_writer",
            "left_for_person",
            "not_regenerated",
        ],
        "WebhookEventEnum": ["document.complete", "document.failed", "document.cancelled"],
        "StatusEnum": ["Pending", "Generating", "Complete", "Failed", "Cancelled"],
    },
}

# --- LLM writer (issue: grounded writer) ---------------------------------------------------------
FOLIO_LLM_BASE_URL = env_str("FOLIO_LLM_BASE_URL")
FOLIO_LLM_MODEL = env_str("FOLIO_LLM_MODEL")
FOLIO_LLM_API_KEY = env_str("FOLIO_LLM_API_KEY")
FOLIO_LLM_TIMEOUT = env_int("FOLIO_LLM_TIMEOUT", 60, minimum=1)

# --- The review cycle and webhooks (issue 10; docs/api.md) --------------------------------------
# Webhook targets on loopback, private or link-local addresses are refused (at registration and
# at every delivery) unless this is set: a webhook must not reach the operator's own network.
FOLIO_WEBHOOK_ALLOW_PRIVATE = env_bool("FOLIO_WEBHOOK_ALLOW_PRIVATE", False)
FOLIO_WEBHOOK_TIMEOUT_SECONDS = env_int("FOLIO_WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# Seconds before each retry of a delivery the receiver did not take (2xx); one retry per value.
FOLIO_WEBHOOK_RETRY_SECONDS = env_int_list("FOLIO_WEBHOOK_RETRY_SECONDS", "10,60,300,1800,7200")
# The address receivers use to reach this server (download_url in webhook events), e.g.
# https://folio.example.com; unset, events carry the path alone.
FOLIO_PUBLIC_URL = env_str("FOLIO_PUBLIC_URL").rstrip("/")

FOLIO_DEMO_USER = env_str("FOLIO_DEMO_USER", "demo")
FOLIO_DEMO_PASSWORD = env_str("FOLIO_DEMO_PASSWORD", "demo-password")

# --- Security (production) ---------------------------------------------------------------------
# docs/security.md. `manage.py check --deploy` is clean with DJANGO_DEBUG unset, a strong
# DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS set (tests/reliability/test_attacks.py runs it).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("FOLIO_SESSION_SECONDS", 12 * 3600, minimum=300)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# drf-spectacular's schema-quality warnings are not deployment-security issues; they belong to
# `manage.py spectacular --validate`, so `check --deploy` stays a security gate.
SPECTACULAR_SETTINGS["ENABLE_DJANGO_DEPLOY_CHECK"] = False
# Headers Django does not set (CSP with frame-ancestors 'none', Permissions-Policy, no-store on
# token answers), right after SecurityMiddleware; then brute-force protection of the session
# logins (portal/ratelimit.py), once the session and the user are known.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "portal.middleware.SecurityHeadersMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "portal.ratelimit.LoginRateLimitMiddleware",
)
# Before anything reads a request body (the login limit reads the form; CSRF's check reads
# request.POST): an oversized body is refused from its declared length (portal/bodylimit.py).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "portal.bodylimit.BodyLimitMiddleware",
)
# Then a multipart body outside the API is parsed where a full temporary folder can be answered
# 503 (before the CSRF check reads it; portal/uploadspool.py).
MIDDLEWARE.insert(
    MIDDLEWARE.index("portal.bodylimit.BodyLimitMiddleware") + 1,
    "portal.uploadspool.UploadSpoolMiddleware",
)
# Usernames compared NFKC + casefold; the demo account refused outside debug mode.
AUTHENTICATION_BACKENDS = ["portal.backends.FolioModelBackend"]
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("FOLIO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("FOLIO_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("FOLIO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("FOLIO_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    if SESSION_COOKIE_SECURE:
        # A __Host- cookie is only accepted over HTTPS, for this host and path "/".
        SESSION_COOKIE_NAME = "__Host-sessionid"
    # Only behind a TLS-terminating proxy that overwrites the header (never trust it otherwise).
    if env_bool("FOLIO_BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Django's own "django.server" handler (runserver's request lines) would otherwise be
        # kept from its DEFAULT_LOGGING, without the redaction filter added below.
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env_str("FOLIO_LOG_LEVEL", "INFO")},
    "loggers": {
        "rq.worker": {"level": "WARNING"},
        # Replace DEFAULT_LOGGING's handlers of these two loggers (they have no redaction).
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# --- Reliability and hardening (docs/reliability.md, docs/limits.md, docs/security.md) ----------
# The reconciler runs in every worker at start and every FOLIO_RECONCILE_SECONDS (and with
# `manage.py reconcile`); a Generating row whose heartbeat (written by its worker every
# FOLIO_WORKER_MONITOR_SECONDS) is older than FOLIO_STALE_JOB_SECONDS and whose worker is gone is
# retried or failed; no attempt stays Generating longer than FOLIO_JOB_HARD_LIMIT_SECONDS.
FOLIO_RECONCILE_SECONDS = env_int("FOLIO_RECONCILE_SECONDS", 60, minimum=1)
FOLIO_WORKER_MONITOR_SECONDS = env_int("FOLIO_WORKER_MONITOR_SECONDS", 30, minimum=1)
# Each work horse lowers its CPU priority by this much (os.nice): the web process wins the CPU on
# a machine that runs both. 0 keeps the worker's own priority.
FOLIO_WORKER_NICE = env_int("FOLIO_WORKER_NICE", 10, minimum=0)
FOLIO_JOB_HARD_LIMIT_SECONDS = env_int(
    "FOLIO_JOB_HARD_LIMIT_SECONDS", FOLIO_JOB_TIMEOUT + 120, minimum=FOLIO_JOB_TIMEOUT + 60
)
# Socket timeout of the Redis client used by requests and the reconciler (one retry): a stopped
# or frozen Redis answers 503 in well under two seconds.
FOLIO_REDIS_TIMEOUT_MS = env_int("FOLIO_REDIS_TIMEOUT_MS", 600, minimum=50)
# /healthz answers 503 "degraded" when the oldest Pending row waited longer than this (the queue
# is not being served fast enough), as it does when no worker is alive.
FOLIO_QUEUE_STALL_SECONDS = env_int("FOLIO_QUEUE_STALL_SECONDS", 600, minimum=10)
# Login brute-force protection (portal/ratelimit.py): failures per address and account, and per
# account from every address, counted in the database that every web process shares.
FOLIO_LOGIN_MAX_FAILURES = env_int("FOLIO_LOGIN_MAX_FAILURES", 10, minimum=1)
FOLIO_LOGIN_MAX_ACCOUNT_FAILURES = env_int("FOLIO_LOGIN_MAX_ACCOUNT_FAILURES", 50, minimum=1)
FOLIO_LOGIN_LOCKOUT_SECONDS = env_int("FOLIO_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Request bodies (portal/bodylimit.py): refused from their declared length, before reading.
FOLIO_MAX_ANONYMOUS_BODY_KB = env_int("FOLIO_MAX_ANONYMOUS_BODY_KB", 64, minimum=1)
FOLIO_MAX_BODY_MB = env_int("FOLIO_MAX_BODY_MB", 10, minimum=1)
# Template import (.docx → outline) runs in a limited child process (templates_app/services.py).
FOLIO_TEMPLATE_IMPORT_TIMEOUT = env_int("FOLIO_TEMPLATE_IMPORT_TIMEOUT", 20, minimum=1)
FOLIO_TEMPLATE_IMPORT_MEMORY_MB = env_int("FOLIO_TEMPLATE_IMPORT_MEMORY_MB", 768, minimum=128)
FOLIO_TEMPLATE_MAX_PARAGRAPHS = env_int("FOLIO_TEMPLATE_MAX_PARAGRAPHS", 50_000, minimum=100)
FOLIO_TEMPLATE_MAX_SECTIONS = env_int("FOLIO_TEMPLATE_MAX_SECTIONS", 2000, minimum=10)
# Content-Security-Policy of every response except /api/docs/ (empty: portal/middleware.py's).
FOLIO_CSP = env_str("FOLIO_CSP")
# No token, password or presigned-URL signature reaches a log handler.
LOGGING.setdefault("filters", {})["redact_secrets"] = {
    "()": "portal.middleware.RedactSecretsFilter"
}
for _handler in LOGGING["handlers"].values():
    _handler.setdefault("filters", []).insert(0, "redact_secrets")
