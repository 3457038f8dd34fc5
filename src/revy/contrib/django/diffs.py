"""What changed: one delta's fields (``delta.changes``) and the difference between two versions of an object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from revy.contrib.django.actions import SET as ACTION_SET
from revy.contrib.django.content_types import model_of
from revy.contrib.django.snapshot import ObjectSnapshot, from_stored, tracked_fields
from revy.errors import DifferentObjects


def typed(model: type[models.Model] | None, name: str, value: Any) -> Any:
    """A stored value of field ``name`` as the model loads it; as stored when the field is gone."""
    if model is None or value is None:
        return value
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return value
    return from_stored(field, value) if isinstance(field, models.Field) else value


def changes_of(delta: models.Model, attribute_deltas: Iterable[Any]) -> dict[str, tuple[Any, Any]]:
    """``{field name: (old, new)}`` of ``delta``'s attribute deltas, typed; a deleted field's new value is None."""
    model = model_of(delta.content_type_id, delta._state.db)  # type: ignore[attr-defined]
    changes: dict[str, tuple[Any, Any]] = {}
    for attribute in sorted(attribute_deltas, key=lambda a: a.pk):
        old = typed(model, attribute.field_name, attribute.old_value)
        new = typed(model, attribute.field_name, attribute.new_value) if attribute.action == ACTION_SET else None
        changes[attribute.field_name] = (old, new)
    return changes


def diff(delta: models.Model, other: models.Model) -> dict[str, tuple[Any, Any]]:
    """The tracked fields whose values differ between the object's states at ``delta`` and at ``other``.

    ``{field name: (value at delta, value at other)}``, typed as the model
    loads them; both states are read in one query (``ObjectSnapshot``).
    Raises ``revy.DifferentObjects`` when the deltas are of two objects.
    """
    key = (delta.content_type_id, delta.content_id)  # type: ignore[attr-defined]
    if key != (other.content_type_id, other.content_id):  # type: ignore[attr-defined]
        raise DifferentObjects(f"Delta {delta.pk} and delta {other.pk} belong to different objects; diff one object's.")
    model = model_of(delta.content_type_id, delta._state.db)  # type: ignore[attr-defined]
    if model is None:
        raise DifferentObjects(f"The model of delta {delta.pk} is no longer installed.")
    snapshots = dict(
        type(delta)
        ._base_manager.using(delta._state.db)
        .filter(pk__in=[delta.pk, other.pk])
        .annotate(snapshot=ObjectSnapshot(model))
        .values_list("pk", "snapshot")
    )
    here, there = snapshots.get(delta.pk), snapshots.get(other.pk)
    differences: dict[str, tuple[Any, Any]] = {}
    for field in tracked_fields(model):
        value = None if here is None else getattr(here, field.attname)
        other_value = None if there is None else getattr(there, field.attname)
        if value != other_value:
            differences[field.name] = (value, other_value)
    return differences
