"""``@audited(action, object_type)``: a service's change recorded in the append-only audit log.

The decorator records who (``user``), what (``action``) and which object (the template or style
guide the service returned, or the one it was given) once the service has returned; a failed
service records nothing. Every public write of templates_app wears it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from portal.audit import audit_record
from portal.selectors import membership_of
from templates_app.models import StyleGuide, Template

F = TypeVar("F", bound=Callable[..., Any])


def audited(action: str, object_type: str) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            target = kwargs.get("template") or kwargs.get("style_guide")
            target_id = getattr(target, "pk", None)
            result = func(*args, **kwargs)
            obj = result if isinstance(result, Template | StyleGuide) else target
            user = kwargs.get("user")
            membership = membership_of(user)
            org_id = getattr(obj, "organization_id", None) or (
                membership.organization_id if membership is not None else None
            )
            if org_id is not None:
                audit_record(
                    organization_id=org_id,
                    actor=user,
                    action=action,
                    object_type=object_type,
                    object_id=getattr(obj, "pk", None) or target_id,
                    details={"name": getattr(obj, "name", "")},
                )
            return result

        return wrapper  # type: ignore[return-value]

    return decorate
