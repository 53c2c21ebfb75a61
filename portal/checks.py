"""Folio's own ``manage.py check --deploy`` warnings (docs/security.md).

``folio.W001``: the demo account of ``make run`` exists in this database. Outside debug mode it
cannot log in (``portal.backends``), but a well-known login has no place in production: delete it
(``manage.py ensure_demo --remove``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import DatabaseError


@register(Tags.security, deploy=True)
def demo_account_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    from django.contrib.auth import get_user_model

    from portal.backends import DEMO_ORGANIZATION

    user_model = get_user_model()
    try:
        exists = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: settings.FOLIO_DEMO_USER},
            membership__organization__name=DEMO_ORGANIZATION,
        ).exists()
    except DatabaseError:  # not migrated yet, or the database is down: nothing to say here
        return []
    if not exists:
        return []
    return [
        Warning(
            f"The demo account {settings.FOLIO_DEMO_USER!r} (organization "
            f"{DEMO_ORGANIZATION!r}, created by `make run`) exists in this database.",
            hint=(
                "It cannot log in outside debug mode, but remove it before going live: "
                "`manage.py ensure_demo --remove`."
            ),
            id="folio.W001",
        )
    ]
