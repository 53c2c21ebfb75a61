"""Organizations, the people in them, and the audit log of what they did.

A user belongs to exactly one organization through a ``Membership`` that also carries the role.
Superusers (Django's ``is_superuser``) are the platform operators and may have no membership.
Every other query in the project is scoped by ``Membership.organization``. The audit log lives
here, in the site shell, because both apps (documents and templates_app) write to it.
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


class AuditEvent(models.Model):
    """Append-only record of who did what (upload, generate, download, cancel, template edits).

    Written by ``portal.audit.audit_record`` only; never changed (``save`` refuses an update) and
    never deleted (``portal.audit.refuse_audit_delete``, connected in ``PortalConfig.ready``),
    except with its whole organization.
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    action = models.CharField(max_length=40, db_index=True)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Created by the documents app, which held the audit log before it moved to the shell.
        db_table = "documents_auditevent"

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)


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
