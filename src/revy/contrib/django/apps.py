from __future__ import annotations

from django.apps import AppConfig


class RevyConfig(AppConfig):
    name = "revy.contrib.django"
    label = "revy"
    verbose_name = "Revy revision history"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from revy.contrib.django import checks, recording  # noqa: F401  (checks register themselves)

        recording.connect_receivers()
