"""WSGI entry point (gunicorn portal.wsgi).

Every module the requests need (the URL conf and so every view) is imported here, then the
objects made so far are moved out of the garbage collector's reach (``gc.freeze``): they live as
long as the process, and a full collection no longer walks them. A full collection over the
~115,000 objects of a loaded Folio took 63 ms, once every few hundred requests, and that pause
was the p99 of the accept route (bench/load.py); after the freeze it takes about 5 ms.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view now, not on the first request
gc.collect()
gc.freeze()
