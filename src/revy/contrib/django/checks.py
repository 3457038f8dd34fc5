"""System checks for revy's configuration."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import checks

from revy.contrib.django import conf
from revy.contrib.django import models as revy_models
from revy.contrib.django.querysets import RevyQuerySetMixin
from revy.contrib.django.specs import tracked_models
from revy.contrib.django.tracking import RevyTrackedModel


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """revy.E001 to E007: contenttypes installed, swapped models usable, encoder and actor label importable,
    flags boolean, the request header a name."""
    errors: list[checks.CheckMessage] = []
    if not apps.is_installed("django.contrib.contenttypes"):
        errors.append(
            checks.Error(
                "revy needs django.contrib.contenttypes in INSTALLED_APPS.",
                hint="Add 'django.contrib.contenttypes' to INSTALLED_APPS.",
                id="revy.E001",
            )
        )
    for setting, label, base in (
        (conf.REVISION_MODEL_SETTING, conf.revision_model_label(), revy_models.AbstractRevision),
        (conf.OBJECT_DELTA_MODEL_SETTING, conf.object_delta_model_label(), revy_models.AbstractObjectDelta),
        (conf.ATTRIBUTE_DELTA_MODEL_SETTING, conf.attribute_delta_model_label(), revy_models.AbstractAttributeDelta),
    ):
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            errors.append(checks.Error(f"{setting} = {label!r} names no installed model.", id="revy.E002"))
            continue
        if not issubclass(model, base):
            errors.append(
                checks.Error(
                    f"{setting} = {label!r} must subclass revy.contrib.django.models.{base.__name__}.",
                    id="revy.E003",
                )
            )
    try:
        conf.json_encoder()
    except ImportError as error:
        errors.append(checks.Error(f"REVY_JSON_ENCODER cannot be imported: {error}", id="revy.E004"))
    try:
        label = conf.actor_label()
    except ImportError as error:
        errors.append(checks.Error(f"REVY_ACTOR_LABEL cannot be imported: {error}", id="revy.E006"))
    else:
        if not callable(label):
            errors.append(checks.Error(f"REVY_ACTOR_LABEL must be a callable, not {label!r}.", id="revy.E006"))
    header = conf.request_description_header()
    if header is not None and not (isinstance(header, str) and header):
        message = f"REVY_REQUEST_DESCRIPTION_HEADER must be a header name or None, not {header!r}."
        errors.append(checks.Error(message, id="revy.E007"))
    return errors


@checks.register()
def check_bulk_writes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """revy.W001: a ``RevyTrackedModel`` whose default manager would not record bulk writes.

    Models registered with ``revy.register()`` keep their own managers by
    design; their bulk writes go through ``revy.bulk_create()`` and friends.
    """
    warnings: list[checks.CheckMessage] = []
    for model in tracked_models():
        if app_configs is not None and model._meta.app_config not in app_configs:
            continue
        if issubclass(model, RevyTrackedModel) and not isinstance(
            model._default_manager.get_queryset(), RevyQuerySetMixin
        ):
            warnings.append(
                checks.Warning(
                    f"The default manager of {model._meta.label} ({type(model._default_manager).__name__}) "
                    "does not record bulk_create(), bulk_update() or update().",
                    hint="Build its queryset with revy.contrib.django.querysets.RevyQuerySetMixin, "
                    "or call revy.bulk_create(), revy.bulk_update() and revy.update().",
                    obj=model,
                    id="revy.W001",
                )
            )
    return warnings
