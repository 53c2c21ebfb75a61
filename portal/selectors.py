"""Reads of the site shell: whose organization a user is in.

``membership_of(user)`` is the one membership lookup of the project: the API's authentication,
the portal's pages, the admin and both apps' selectors and services all ask it. It reads the
membership and its organization in one query and keeps the answer on the user object
(``user.folio_membership``) for the rest of the request; the JWT authentication sets the same
attribute while it loads the user, so an API request reads it with the user, in one query.
"""

from __future__ import annotations

from typing import Any

from portal.models import Membership

CACHE_ATTRIBUTE = "folio_membership"


def membership_of(user: Any) -> Membership | None:
    """The user's membership (with its organization), or None: anonymous, or no organization."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if hasattr(user, CACHE_ATTRIBUTE):
        return getattr(user, CACHE_ATTRIBUTE)
    membership = Membership.objects.select_related("organization").filter(user_id=user.pk).first()
    setattr(user, CACHE_ATTRIBUTE, membership)
    return membership


def organization_id_of(user: Any) -> Any | None:
    """The id of the user's organization, or None (anonymous, or a superuser without one)."""
    membership = membership_of(user)
    return membership.organization_id if membership is not None else None
