"""``manage.py ensure_demo``: the demo organization's template manager, for ``make run``.

In debug mode only, makes sure the organization "Demo" exists with the user
``FOLIO_DEMO_USER`` (default ``demo``) as its manager and ``FOLIO_DEMO_PASSWORD`` (default
``demo-password``) as the password, so the login that ``make run`` prints always works. Outside
debug mode it does nothing and says why: a production instance has no well-known account.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.management.commands.create_org_user import OrgUserError, org_user_ensure
from portal.models import Membership

DEMO_ORGANIZATION = "Demo"


class Command(BaseCommand):
    help = "In debug mode, make sure the demo organization and its template manager exist."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            self.stdout.write(
                "Debug mode is off (DJANGO_DEBUG): no demo user is created outside development."
            )
            return
        username = settings.FOLIO_DEMO_USER
        try:
            _, created = org_user_ensure(
                organization_name=DEMO_ORGANIZATION,
                username=username,
                password=settings.FOLIO_DEMO_PASSWORD,
                role=Membership.Role.MANAGER,
                # The operator chose this password for a local demo; don't second-guess it.
                validate=False,
            )
        except OrgUserError as exc:
            raise CommandError(f"Demo user not ensured: {exc}") from exc
        verb = "Created" if created else "Ensured"
        self.stdout.write(
            f"{verb} the demo login {username!r} (template manager of {DEMO_ORGANIZATION!r})."
        )
