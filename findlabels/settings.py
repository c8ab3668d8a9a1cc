"""Find the Labels settings, read from the environment.

With nothing set, the app runs on embedded defaults: SQLite and media under
``var/``, local accounts with console email and the on-box detector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url

from .aws import botocore_config, bucket_origins, s3_storage
from .env import env_bool, env_choice, env_int, env_list, env_path, env_required, env_str
from .policy import content_security_policy

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("FINDLABELS_VAR_DIR", BASE_DIR / "var")
# SQLite cannot create its folder; making it here keeps `migrate && runserver` one step.
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-development-key-only-used-with-debug-on"  # noqa: S105
# Without DEBUG a missing key stops every server and `manage.py check`
# (accounts.checks), while commands that sign nothing, such as detect_labels,
# still run with nothing set.

# Modes: `aws` switches storage, detector and accounts to AWS together; each
# can also be chosen alone.
FINDLABELS_MODE = env_choice("FINDLABELS_MODE", "local", ("local", "aws"))
_AWS = FINDLABELS_MODE == "aws"
FINDLABELS_STORAGE = env_choice("FINDLABELS_STORAGE", "s3" if _AWS else "local", ("local", "s3"))
FINDLABELS_DETECTOR = env_choice(
    "FINDLABELS_DETECTOR", "rekognition" if _AWS else "local", ("local", "rekognition")
)
FINDLABELS_AUTH = env_choice(
    "FINDLABELS_AUTH", "cognito" if _AWS else "local", ("local", "cognito")
)
USES_AWS = any(
    choice != "local" for choice in (FINDLABELS_STORAGE, FINDLABELS_DETECTOR, FINDLABELS_AUTH)
)
# Credentials come only from boto3's default chain (the instance role on EC2).
AWS_REGION = env_required("AWS_REGION", "in AWS mode") if USES_AWS else env_str("AWS_REGION")
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL") or None  # a local endpoint such as moto's
AWS_CONNECT_TIMEOUT = env_int("AWS_CONNECT_TIMEOUT", 5, minimum=1)
AWS_READ_TIMEOUT = env_int("AWS_READ_TIMEOUT", 30, minimum=1)
AWS_MAX_ATTEMPTS = env_int("AWS_MAX_ATTEMPTS", 3, minimum=1)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "allauth",
    "allauth.account",
    "csp",
    "accounts",
    "gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "gallery.uploads.UploadLimitsMiddleware",
]

ROOT_URLCONF = "findlabels.urls"
WSGI_APPLICATION = "findlabels.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.email_hint",
                "findlabels.context_processors.site_links",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        # Each gunicorn thread keeps its own connection this long. On RDS,
        # workers x threads x instances must stay under max_connections:
        # bootstrap.sh sets 0 (a connection per request) for a load-balanced fleet.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        # A kept connection that died (a failover, a restart, a password
        # rotation ending sessions) is replaced before a request uses it.
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

FINDLABELS_PRESIGN_SECONDS = env_int("FINDLABELS_PRESIGN_SECONDS", 300, minimum=1)
# Rendered gallery pages are reused until the library changes, and never past
# half the life of the presigned thumbnail URLs inside them; 0 turns it off.
FINDLABELS_GALLERY_CACHE_SECONDS = min(
    env_int("FINDLABELS_GALLERY_CACHE_SECONDS", 600, minimum=0), FINDLABELS_PRESIGN_SECONDS // 2
)
# The default cache is in the database, so every worker and instance shares
# rate limits. Rendered gallery pages stay in each worker's memory: their keys
# carry the owner's gallery_version, so no copy can be stale.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "findlabels_cache",
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    },
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "gallery-pages",
        "TIMEOUT": FINDLABELS_GALLERY_CACHE_SECONDS,
        "OPTIONS": {"MAX_ENTRIES": 1_000},
    },
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions are read through the shared database cache: one plain indexed read
# instead of an ORM query per request; logout still ends them everywhere.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "gallery:index"

# Accounts: email is the login, and nobody signs in before proving the address.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Find the Labels] "

EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Find the Labels <noreply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("DJANGO_STATIC_ROOT", VAR_DIR / "static")

# Media is never served by URL: every read goes through an access-checked view.
MEDIA_ROOT = env_path("FINDLABELS_MEDIA_ROOT", VAR_DIR / "media")
if FINDLABELS_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = env_required("AWS_STORAGE_BUCKET_NAME", "for S3 storage")
    _DEFAULT_STORAGE: dict[str, Any] = s3_storage(
        AWS_STORAGE_BUCKET_NAME,
        AWS_REGION,
        AWS_ENDPOINT_URL,
        FINDLABELS_PRESIGN_SECONDS,
        botocore_config(AWS_CONNECT_TIMEOUT, AWS_READ_TIMEOUT, AWS_MAX_ATTEMPTS),
    )
else:
    _DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# One Content-Security-Policy, the app's (findlabels/policy.py); nginx sends a
# copy of it only with what it serves itself.
MEDIA_ORIGINS = (
    bucket_origins(AWS_STORAGE_BUCKET_NAME, AWS_REGION, AWS_ENDPOINT_URL)
    if FINDLABELS_STORAGE == "s3"
    else []
)
CONTENT_SECURITY_POLICY = content_security_policy(MEDIA_ORIGINS)

# Uploads larger than this go to a temporary file instead of memory, in the
# state folder: /tmp is a RAM tmpfs on Amazon Linux 2023, where 200 MB bodies
# times a dozen threads would eat the instance's memory. The file has no name
# in the file system (gallery.uploads), so a killed worker leaves none behind.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = str(env_path("FINDLABELS_UPLOAD_TEMP_DIR", VAR_DIR / "tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "gallery.uploads.UnnamedTemporaryFileUploadHandler",
]
FINDLABELS_MAX_UPLOAD_BYTES = env_int("FINDLABELS_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1)
FINDLABELS_MAX_PIXELS = env_int("FINDLABELS_MAX_PIXELS", 50_000_000, minimum=1)
FINDLABELS_MAX_FILES_PER_UPLOAD = env_int("FINDLABELS_MAX_FILES_PER_UPLOAD", 50, minimum=1)
DATA_UPLOAD_MAX_NUMBER_FILES = FINDLABELS_MAX_FILES_PER_UPLOAD

# Label detection.
FINDLABELS_DETECT_ON_UPLOAD = env_bool(
    "FINDLABELS_DETECT_ON_UPLOAD", FINDLABELS_DETECTOR == "local"
)
FINDLABELS_LOCAL_MODEL = env_choice(
    "FINDLABELS_LOCAL_MODEL", "efficientnet-lite0", ("efficientnet-lite0", "efficientnet-lite2")
)
FINDLABELS_MODEL_CACHE_DIR = env_path("FINDLABELS_MODEL_CACHE_DIR", VAR_DIR / "models")
# Rekognition: labels below this are not returned (and not billed differently).
FINDLABELS_REKOGNITION_MIN_CONFIDENCE = env_int(
    "FINDLABELS_REKOGNITION_MIN_CONFIDENCE", 50, minimum=0
)
FINDLABELS_DETECT_RATE_PER_MINUTE = env_int("FINDLABELS_DETECT_RATE_PER_MINUTE", 30, minimum=1)
# The moderation check run with every detection; with Rekognition it is one
# more billed call (DetectModerationLabels) per Detect.
FINDLABELS_MODERATION = env_bool("FINDLABELS_MODERATION", True)
# A moderation label this sure (percent) lists the photo under "Needs review"
# in the admin; nothing is ever hidden without a moderator.
FINDLABELS_MODERATION_THRESHOLD = env_int(
    "FINDLABELS_MODERATION_THRESHOLD", 80, minimum=1, maximum=100
)
# Cognito sign-up, resend-code and forgot-password each send an email, and a
# pool's own mailer sends only a few dozen a day: one budget per client
# address per hour, so one script cannot use up the day's quota.
FINDLABELS_COGNITO_EMAILS_PER_HOUR = env_int("FINDLABELS_COGNITO_EMAILS_PER_HOUR", 5, minimum=1)

# Cognito accounts.
if FINDLABELS_AUTH == "cognito":
    COGNITO_USER_POOL_ID = env_required("COGNITO_USER_POOL_ID", "for Cognito accounts")
    COGNITO_APP_CLIENT_ID = env_required("COGNITO_APP_CLIENT_ID", "for Cognito accounts")
    COGNITO_JWKS = env_str("COGNITO_JWKS")  # the pool's keys as JSON, to skip fetching them
    AUTHENTICATION_BACKENDS = [
        "accounts.cognito.backend.CognitoBackend",
        # Permissions of linked local accounts; the admin signs in through Cognito too.
        "django.contrib.auth.backends.ModelBackend",
    ]

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
# Production behind nginx with a certificate: DJANGO_HTTPS=1 turns on every
# HTTPS-only protection (`manage.py check --deploy` is clean with it).
DJANGO_HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = DJANGO_HTTPS
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/live$"]
SESSION_COOKIE_SECURE = DJANGO_HTTPS
CSRF_COOKIE_SECURE = DJANGO_HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000 if DJANGO_HTTPS else 0, minimum=0)
# Opt-in only: includeSubDomains binds every name under the domain to HTTPS,
# and a preload-list entry takes months to undo. Preload requires
# includeSubDomains, so asking for it turns both on.
SECURE_HSTS_PRELOAD = DJANGO_HTTPS and env_bool("DJANGO_HSTS_PRELOAD", False)
SECURE_HSTS_INCLUDE_SUBDOMAINS = DJANGO_HTTPS and env_bool(
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_PRELOAD
)
# `check --deploy` warns about both; leaving them off is the decision above.
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
# Only behind a proxy that sets this header itself (our nginx) may it be trusted.
if env_bool("DJANGO_BEHIND_PROXY", False):
    # nginx puts the visitor's address here; allauth's rate limits key on it.
    ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# nginx serves local media itself after the app's access check (X-Accel-Redirect).
FINDLABELS_ACCEL_REDIRECT_PREFIX = env_str("FINDLABELS_ACCEL_REDIRECT_PREFIX")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"PIL": {"level": "WARNING"}},
}
