"""``manage.py create_org_user ORG USERNAME --password P [--role member|manager] [--superuser]``.

Creates the organization when it does not exist and the user in it; run again, it sets the password
and the role (README.md, "Other commands"). Managers are staff (they use the Django admin, which
shows only their organization's templates) and belong to the "Template managers" group, which holds
the add/change/delete/view permissions on the template models; members are neither. ``--superuser``
only ever promotes: an operator's rights are taken away in the admin, never by a re-run.

``org_user_ensure`` is the one write behind this command, ``ensure_demo`` and the test fixtures.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from portal.models import Membership, Organization

TEMPLATE_MANAGERS_GROUP = "Template managers"
TEMPLATE_MODELS = ("template", "templatesection", "rule", "styleguide")
TEMPLATE_ACTIONS = ("add", "change", "delete", "view")


class OrgUserError(ValueError):
    """Input that cannot become an organization user; the message is one line for a person."""


def template_managers_group() -> Group:
    """The group holding the template permissions, created (and kept complete) on the fly."""
    group, _ = Group.objects.get_or_create(name=TEMPLATE_MANAGERS_GROUP)
    codenames = [f"{action}_{model}" for model in TEMPLATE_MODELS for action in TEMPLATE_ACTIONS]
    permissions = Permission.objects.filter(
        content_type__app_label="templates_app", codename__in=codenames
    )
    group.permissions.add(*permissions)
    return group


def _clean(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise OrgUserError(f"The {what} must not be empty.")
    return value


@transaction.atomic
def org_user_ensure(
    *,
    organization_name: str,
    username: str,
    password: str,
    role: str = Membership.Role.MEMBER,
    superuser: bool = False,
    validate: bool = True,
) -> tuple[AbstractUser, bool]:
    """Create or update ``username`` in ``organization_name``; return ``(user, created)``.

    Raises ``OrgUserError`` (one line) for a bad name, role or password, and for a user who
    already belongs to another organization: a user belongs to exactly one, and moving people
    between organizations is a decision for the admin, not a side effect of a re-run.
    """
    organization_name = _clean(organization_name, "organization name")
    username = _clean(username, "username")
    if not password:
        raise OrgUserError("The password must not be empty.")
    if role not in Membership.Role.values:
        raise OrgUserError(f"The role must be one of {', '.join(Membership.Role.values)}.")

    user_model = get_user_model()
    username_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    try:
        username = username_field.clean(username, None)
    except ValidationError as exc:
        raise OrgUserError(f"Invalid username {username!r}: {' '.join(exc.messages)}") from exc

    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    created = user is None
    if user is None:
        user = user_model(**{user_model.USERNAME_FIELD: username})
    if validate:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise OrgUserError(f"Password refused: {' '.join(exc.messages)}") from exc

    organization, _ = Organization.objects.get_or_create(name=organization_name)
    membership = None if created else Membership.objects.filter(user=user).first()
    if membership is not None and membership.organization_id != organization.pk:
        raise OrgUserError(
            f"User {username!r} already belongs to organization "
            f"{membership.organization.name!r}; a user belongs to one organization."
        )

    is_manager = role == Membership.Role.MANAGER
    user.set_password(password)
    user.is_active = True
    if superuser:
        user.is_superuser = True
    user.is_staff = is_manager or user.is_superuser
    user.save()

    if membership is None:
        Membership.objects.create(user=user, organization=organization, role=role)
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])

    group = template_managers_group()
    if is_manager:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    return user, created


class Command(BaseCommand):
    help = (
        "Create an organization (if needed) and a user in it; run again to set the password "
        "and role."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", metavar="ORG", help="organization name")
        parser.add_argument("username", metavar="USERNAME")
        # Checked in handle(), not by argparse, so a mistake is reported in one line.
        parser.add_argument("--password", default=None, help="the user's password (required)")
        parser.add_argument(
            "--role",
            default=Membership.Role.MEMBER,
            help="member (default) or manager (also edits templates and style guides)",
        )
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="also make the user a platform operator (all organizations, RQ dashboard)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["password"] is None:
            raise CommandError("--password is required.")
        try:
            user, created = org_user_ensure(
                organization_name=options["organization"],
                username=options["username"],
                password=options["password"],
                role=options["role"],
                superuser=options["superuser"],
            )
        except OrgUserError as exc:
            raise CommandError(str(exc)) from exc
        extra = ", superuser" if user.is_superuser else ""
        action = "Created" if created else "Updated"
        self.stdout.write(
            f"{action} user {user.get_username()!r} ({options['role']}{extra}) "
            f"in organization {options['organization'].strip()!r}."
        )
