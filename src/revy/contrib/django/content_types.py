"""The content types deltas are keyed by, both ways, on the database of the deltas.

Django caches content types; ``db_manager()`` copies the manager on every
call and the copies share that cache, so one copy per alias serves them all.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models


@cache
def _manager(using: str | None) -> Any:
    return ContentType.objects.db_manager(using)


def content_type_of(model_or_obj: Any, using: str | None) -> ContentType:
    """The content type of a model, an instance, or a proxy (its concrete model's)."""
    return _manager(using).get_for_model(model_or_obj)


def model_of(type_id: int, using: str | None) -> type[models.Model] | None:
    """The model of a content type id; None when it is no longer installed."""
    return _manager(using).get_for_id(type_id).model_class()
