"""OpenAPI (drf-spectacular) extensions of the site shell: Folio's JWT authentication.

``OrgJWTAuthentication`` is simplejwt's bearer-token authentication with the membership check,
so the schema describes it as simplejwt's ``jwtAuth`` bearer scheme. Imported by
``PortalConfig.ready`` (extensions register themselves when their class is defined).
"""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class OrgJWTScheme(SimpleJWTScheme):
    target_class = "portal.auth.OrgJWTAuthentication"
