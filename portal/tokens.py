"""API-token revocation: a version per user, bumped when a token must die (finding 6).

Every token carries ``ver`` (the user's version when it was issued) and ``auth_time`` (when the
user logged in, copied along a refresh chain). ``portal.auth`` refuses a token whose ``ver`` is
not the current version, and a refresh once ``auth_time`` is older than
``FOLIO_REFRESH_CHAIN_HOURS``. The version goes up:

- when the password is set (``set_password`` then ``save``: the admin, the password-change forms,
  ``create_org_user``),
- when the user is deactivated,
- on ``POST /api/v1/auth/logout`` (every token of the user, everywhere).

The signal handlers are connected in ``portal.apps``.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

VERSION_CLAIM = "ver"
AUTH_TIME_CLAIM = "auth_time"


def token_version(user: Any) -> int:
    """The user's current token version (0 when it was never bumped)."""
    from portal.models import TokenState

    try:
        state = user.token_state
    except TokenState.DoesNotExist:
        return 0
    return int(state.version)


def token_version_bump(*, user_id: Any) -> None:
    """Make every token issued to ``user_id`` so far invalid."""
    from portal.models import TokenState

    if TokenState.objects.filter(user_id=user_id).update(version=F("version") + 1):
        return
    try:
        with transaction.atomic():
            TokenState.objects.create(user_id=user_id, version=1)
    except IntegrityError:  # created concurrently: bump that row
        TokenState.objects.filter(user_id=user_id).update(version=F("version") + 1)


def remember_active(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_init: keep the loaded ``is_active`` to see a deactivation in pre_save."""
    instance._folio_was_active = getattr(instance, "is_active", True)


def revoke_on_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save: a new password or a deactivation revokes every token of the user."""
    password_set = getattr(instance, "_password", None) is not None
    deactivated = getattr(instance, "_folio_was_active", True) and not instance.is_active
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not ({"password", "is_active"} & set(update_fields)):
        return
    if (password_set and not kwargs.get("created")) or deactivated:
        token_version_bump(user_id=instance.pk)
    instance._folio_was_active = instance.is_active
