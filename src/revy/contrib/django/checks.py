"""System checks for revy's configuration."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core import checks

from revy.contrib.django import conf
from revy.contrib.django import models as revy_models


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
    prepared = conf.prepared_statements()
    if not isinstance(prepared, bool):
        message = f"REVY_PREPARED_STATEMENTS must be True or False, not {prepared!r}."
        errors.append(checks.Error(message, id="revy.E005"))
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
