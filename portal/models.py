"""Organizations and the people in them.

A user belongs to exactly one organization through a ``Membership`` that also carries the role.
Superusers (Django's ``is_superuser``) are the platform operators and may have no membership.
Every other query in the project is scoped by ``Membership.organization``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    # The LLM writer sends source text off the machine: an organization opts in explicitly.
    llm_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MANAGER = "manager", "Manager"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER


class TokenState(models.Model):
    """A user's API-token version (docs/security.md, finding 6).

    Every JWT carries the version it was issued under (claim ``ver``); a token whose version is
    not the current one is refused, on every request and on refresh. The version goes up when the
    password changes, when the user is deactivated and on ``POST /api/v1/auth/logout``, so every
    token issued before is dead at once. No row means version 0.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="token_state",
    )
    version = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"token version {self.version} of {self.user_id}"


class RateCounter(models.Model):
    """A counter of login attempts or failures that every web process shares (portal/ratelimit.py).

    ``key`` names what is counted (a hashed address, account or both); the count is valid until
    ``expires_at``, then starts again. Rows are small and removed once expired.
    """

    key = models.CharField(max_length=80, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count} until {self.expires_at:%H:%M:%S}"
