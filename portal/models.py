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
