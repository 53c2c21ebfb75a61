from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Organizations and people"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from portal import schema  # noqa: F401  (the OpenAPI description of the JWT auth)
        from portal.audit import refuse_audit_delete
        from portal.models import AuditEvent

        # The audit log is append-only: refuse deletes whoever asks (admin, shell, a cascade).
        pre_delete.connect(
            refuse_audit_delete, sender=AuditEvent, dispatch_uid="folio-audit-append-only"
        )
