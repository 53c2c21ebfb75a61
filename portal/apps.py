from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Organizations and people"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_init, post_save, pre_delete

        from portal import checks, schema, tokens  # noqa: F401  (checks and schema register)
        from portal.audit import refuse_audit_delete
        from portal.models import AuditEvent

        # The audit log is append-only: refuse deletes whoever asks (admin, shell, a cascade).
        pre_delete.connect(
            refuse_audit_delete, sender=AuditEvent, dispatch_uid="folio-audit-append-only"
        )
        user_model = get_user_model()
        post_init.connect(tokens.remember_active, sender=user_model, dispatch_uid="folio-active")
        post_save.connect(tokens.revoke_on_change, sender=user_model, dispatch_uid="folio-revoke")
