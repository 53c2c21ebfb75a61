"""API authentication: simplejwt tokens that name the caller's organization.

The access token carries ``org`` (organization id) and ``role``. On every request the membership is
read again, so a user removed from an organization (or moved to another) loses access at once,
and a refresh is refused for such a user. Tokens also carry the user's token version (``ver``)
and the login time (``auth_time``): a token issued before a password change, a deactivation or a
logout is refused, and a refresh chain ends ``FOLIO_REFRESH_CHAIN_HOURS`` after the login
(``portal.tokens``). Outside debug mode the demo account is refused (``portal.backends``).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import exceptions, permissions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken

from portal.backends import demo_refused
from portal.models import Membership
from portal.selectors import membership_of
from portal.tokens import AUTH_TIME_CLAIM, VERSION_CLAIM, token_version

INVALID = "Invalid authentication credentials"


class OrgJWTAuthentication(JWTAuthentication):
    """simplejwt's user checks, with the user and the membership read in one query."""

    def get_user(self, validated_token):
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if user_id is None:
            raise InvalidToken("Token contained no recognizable user identification")
        user = (
            self.user_model.objects.select_related("membership__organization", "token_state")
            .filter(**{api_settings.USER_ID_FIELD: user_id})
            .first()
        )
        if user is None:
            raise exceptions.AuthenticationFailed(INVALID, code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise exceptions.AuthenticationFailed(INVALID, code="user_inactive")
        try:
            membership = user.membership
        except Membership.DoesNotExist:
            membership = None
        if membership is None or str(membership.organization_id) != str(validated_token.get("org")):
            raise exceptions.AuthenticationFailed(INVALID, code="membership_changed")
        if _claim_int(validated_token, VERSION_CLAIM) != token_version(user):
            raise exceptions.AuthenticationFailed(INVALID, code="token_revoked")
        if demo_refused(user, membership):
            raise exceptions.AuthenticationFailed(INVALID, code="user_inactive")
        user.folio_membership = membership
        return user


def _claim_int(token: Any, claim: str) -> int | None:
    try:
        return int(token.get(claim, 0))
    except (TypeError, ValueError):
        return None


class IsOrganizationMember(permissions.BasePermission):
    message = "User has no organization or not authorized"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return membership_of(user) is not None


class IsOrganizationManager(IsOrganizationMember):
    message = "Only the organization's template managers may do this."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and membership_of(request.user).is_manager


class OrgTokenObtainPairSerializer(TokenObtainPairSerializer):
    default_error_messages = {
        "no_active_account": "No active account found with the given credentials",
        "no_organization": "This account does not belong to an organization.",
    }

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        membership = membership_of(user)
        if membership is not None:
            token["org"] = str(membership.organization_id)
            token["role"] = membership.role
        token[VERSION_CLAIM] = token_version(user)
        token[AUTH_TIME_CLAIM] = int(time.time())
        return token

    def validate(self, attrs):
        data = super().validate(attrs)
        if membership_of(self.user) is None:
            raise exceptions.AuthenticationFailed(
                self.error_messages["no_organization"], "no_organization"
            )
        return data


class OrgTokenRefreshSerializer(TokenRefreshSerializer):
    """Refuses a refresh for a user who left the organization named in the token, for a token
    of an older token version, and once the chain is older than ``FOLIO_REFRESH_CHAIN_HOURS``.
    A rotated refresh token never outlives its chain."""

    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = (
            get_user_model()
            .objects.select_related("token_state")
            .filter(**{api_settings.USER_ID_FIELD: user_id})
            .first()
        )
        membership = membership_of(user) if user is not None else None
        if (
            user is None
            or not user.is_active
            or membership is None
            or str(membership.organization_id) != str(refresh.payload.get("org"))
        ):
            raise exceptions.AuthenticationFailed(INVALID, code="membership_changed")
        if _claim_int(refresh, VERSION_CLAIM) != token_version(user) or demo_refused(
            user, membership
        ):
            raise exceptions.AuthenticationFailed(INVALID, code="token_revoked")
        # A token issued before auth_time existed starts its chain at its own issue time.
        chain_end = _claim_int(refresh, AUTH_TIME_CLAIM) or _claim_int(refresh, "iat") or 0
        chain_end += settings.FOLIO_REFRESH_CHAIN_HOURS * 3600
        left = chain_end - int(time.time())
        if left <= 0:
            raise exceptions.AuthenticationFailed(INVALID, code="refresh_chain_expired")

        data = {"access": str(refresh.access_token)}
        if api_settings.ROTATE_REFRESH_TOKENS:
            if api_settings.BLACKLIST_AFTER_ROTATION:
                refresh.blacklist()
            refresh.set_jti()
            refresh.set_exp(
                lifetime=min(api_settings.REFRESH_TOKEN_LIFETIME, timedelta(seconds=left))
            )
            refresh.set_iat()
            refresh.outstand()
            data["refresh"] = str(refresh)
        return data
