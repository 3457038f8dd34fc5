"""revy's settings, each read here and nowhere else, with its default beside it.

``REVY_REVISION_MODEL`` (``"revy.Revision"``), ``REVY_OBJECT_DELTA_MODEL``
(``"revy.ObjectDelta"``), ``REVY_ATTRIBUTE_DELTA_MODEL``
(``"revy.AttributeDelta"``)
    Swap revy's models for your own, built from the abstract bases in
    ``revy.contrib.django.models``. Set them before your first migration.

``REVY_JSON_ENCODER`` (``"revy.contrib.django.values.RevyJSONEncoder"``)
    Dotted path of the ``json.JSONEncoder`` subclass that stores field values.

``REVY_DELETION_CHUNK_SIZE`` (``1000``)
    How many cascaded objects are announced (``revy.signals``), and their deltas written, per step.

``REVY_HISTORY_ATTRIBUTE`` (``"history"``)
    Name of the history manager added to tracked models.

``REVY_ACTOR_LABEL`` (``str``)
    A callable, or its dotted path, that turns an actor into the short text
    every delta keeps beside the actor's key (``actor_label``), so a deleted
    actor is still named.

``REVY_REQUEST_DESCRIPTION_HEADER`` (``None``)
    The name of a request header (such as ``"X-Revision-Description"``)
    whose value ``RevyMiddleware`` makes the description of the request's
    revision; None reads no header.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

REVISION_MODEL_SETTING = "REVY_REVISION_MODEL"
OBJECT_DELTA_MODEL_SETTING = "REVY_OBJECT_DELTA_MODEL"
ATTRIBUTE_DELTA_MODEL_SETTING = "REVY_ATTRIBUTE_DELTA_MODEL"


# Migrations name the swappable models through ``settings.REVY_*_MODEL``, as
# Django's own do with AUTH_USER_MODEL, so the defaults must exist there.
for _name, _default in (
    (REVISION_MODEL_SETTING, "revy.Revision"),
    (OBJECT_DELTA_MODEL_SETTING, "revy.ObjectDelta"),
    (ATTRIBUTE_DELTA_MODEL_SETTING, "revy.AttributeDelta"),
):
    if not hasattr(settings, _name):
        setattr(settings, _name, _default)


def revision_model_label() -> str:
    return getattr(settings, REVISION_MODEL_SETTING)


def object_delta_model_label() -> str:
    return getattr(settings, OBJECT_DELTA_MODEL_SETTING)


def attribute_delta_model_label() -> str:
    return getattr(settings, ATTRIBUTE_DELTA_MODEL_SETTING)


@cache
def json_encoder() -> type[json.JSONEncoder]:
    return import_string(getattr(settings, "REVY_JSON_ENCODER", "revy.contrib.django.values.RevyJSONEncoder"))


@cache
def deletion_chunk_size() -> int:
    return int(getattr(settings, "REVY_DELETION_CHUNK_SIZE", 1000))


@cache
def actor_label() -> Any:
    label = getattr(settings, "REVY_ACTOR_LABEL", str)
    return import_string(label) if isinstance(label, str) else label


def request_description_header() -> str | None:
    return getattr(settings, "REVY_REQUEST_DESCRIPTION_HEADER", None)


# Read on every write or deleted object, so kept: reading a missing setting through
# Django's lazy settings raises and catches an AttributeError each time.
_CACHED = {
    "REVY_JSON_ENCODER": json_encoder,
    "REVY_DELETION_CHUNK_SIZE": deletion_chunk_size,
    "REVY_ACTOR_LABEL": actor_label,
}


def _forget(setting: str, **kwargs: Any) -> None:
    # override_settings() in tests, or anything else that changes settings at run time.
    cached = _CACHED.get(setting)
    if cached is not None:
        cached.cache_clear()


setting_changed.connect(_forget, dispatch_uid="revy.conf")


def history_attribute() -> str:
    return getattr(settings, "REVY_HISTORY_ATTRIBUTE", "history")
