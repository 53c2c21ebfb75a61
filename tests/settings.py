"""Test settings: portal.settings with test-only values.

Files go to a throw-away directory; the queue URL is filled in by the ``redis_server`` fixture
(tests/conftest.py), which starts an embedded valkey-server unless REDIS_URL is set.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("FOLIO_DATA_DIR", tempfile.mkdtemp(prefix="folio-test-"))
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-that-is-long-enough-for-hs256-signing")

from portal.settings import *  # noqa: F403
from portal.settings import MEDIA_ROOT

DEBUG = False
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SESSION_COOKIE_NAME = "sessionid"  # the production __Host- name needs HTTPS
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
Path(MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
# A file, not memory: reliability tests share the test database with worker subprocesses.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
