from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Organizations and people"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_init, post_save

        from portal import checks, tokens  # noqa: F401  (checks registers itself)

        user_model = get_user_model()
        post_init.connect(tokens.remember_active, sender=user_model, dispatch_uid="folio-active")
        post_save.connect(tokens.revoke_on_change, sender=user_model, dispatch_uid="folio-revoke")
