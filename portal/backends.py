"""The authentication backend of every login: the portal's, the admin's and the API's tokens.

- Usernames are compared after NFKC normalisation, then case-insensitively: ``ｅｖｅ``, ``EVE``
  and ``eve`` name the same account, for logging in and for counting failures
  (``portal.ratelimit`` counts by :func:`normalize_username`, NFKC + casefold). An exact match
  wins; a case-insensitive one counts only when it is unique.
- Outside debug mode the demo account (``FOLIO_DEMO_USER`` in the organization "Demo", which
  ``make run`` creates) cannot log in, nor keep a session: a data directory once used for a demo
  has no well-known login in production (docs/security.md, finding 8).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

DEMO_ORGANIZATION = "Demo"


def normalize_username(raw: Any) -> str:
    """The form of a username used to count login failures: NFKC, casefolded, trimmed."""
    return unicodedata.normalize("NFKC", str(raw or "")).casefold().strip()


def find_user(username: str) -> Any | None:
    """The account a login name refers to (see the module docstring), or None."""
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    name = unicodedata.normalize("NFKC", str(username or "")).strip()
    if not name:
        return None
    exact = user_model._default_manager.filter(**{field: name}).first()
    if exact is not None:
        return exact
    wanted = normalize_username(name)
    matches = [
        user
        for user in user_model._default_manager.filter(**{f"{field}__iexact": name})[:5]
        if normalize_username(user.get_username()) == wanted
    ]
    return matches[0] if len(matches) == 1 else None


def is_demo_account(user: Any, membership: Any = None) -> bool:
    """True for the demo organization's account that ``ensure_demo`` makes."""
    if user is None or user.get_username() != settings.FOLIO_DEMO_USER:
        return False
    if membership is None:
        from portal.models import Membership

        membership = Membership.objects.select_related("organization").filter(user=user).first()
    return membership is not None and membership.organization.name == DEMO_ORGANIZATION


def demo_refused(user: Any, membership: Any = None) -> bool:
    """True when ``user`` is the demo account and debug mode is off."""
    return not settings.DEBUG and is_demo_account(user, membership)


class FolioModelBackend(ModelBackend):
    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = find_user(username)
        if user is None:
            # Hash anyway, so an unknown name takes as long as a wrong password.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and not demo_refused(user)
