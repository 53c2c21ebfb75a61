"""``manage.py ensure_demo``: the demo organization's template manager, for ``make run``.

In debug mode only, makes sure the organization "Demo" exists with the user
``FOLIO_DEMO_USER`` (default ``demo``) as its manager and ``FOLIO_DEMO_PASSWORD`` (default
``demo-password``) as the password, so the login that ``make run`` prints always works. Outside
debug mode it does nothing and says why: a production instance has no well-known account (and
``portal.backends`` refuses that account's logins there). ``--remove`` deletes the demo account,
as ``manage.py check --deploy`` (``folio.W001``) asks while it exists.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backends import DEMO_ORGANIZATION
from portal.management.commands.create_org_user import OrgUserError, org_user_ensure
from portal.models import Membership


class Command(BaseCommand):
    help = "In debug mode, make sure the demo organization and its template manager exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--remove",
            action="store_true",
            help="delete the demo account (and the organization 'Demo' when nobody else is in it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("remove"):
            self.remove()
            return
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

    def remove(self) -> None:
        from django.contrib.auth import get_user_model

        from portal.models import Organization

        user_model = get_user_model()
        users = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: settings.FOLIO_DEMO_USER},
            membership__organization__name=DEMO_ORGANIZATION,
        )
        removed = users.count()
        users.delete()
        Organization.objects.filter(name=DEMO_ORGANIZATION, memberships__isnull=True).delete()
        if removed:
            self.stdout.write(f"Removed the demo login {settings.FOLIO_DEMO_USER!r}.")
        else:
            self.stdout.write("There is no demo login to remove.")
