"""Drop-in replacements for Django's ``on_delete`` handlers that leave a record.

``on_delete=revy.contrib.django.models.CASCADE`` (or ``SET``, ``SET_NULL``,
``SET_DEFAULT``) behaves exactly like Django's handler of the same name when
no context is active, when it is disabled, or when the model holding the
foreign key is not tracked. Otherwise it also sends ``revy.signals``:
``objects_cascaded`` for the objects it deletes and ``field_set_on_delete``
for the objects whose key it changes, which revy's receivers record in the
deletion's revision. Django calls handlers while it *collects* a deletion,
before it knows whether the deletion happens and outside its transaction, so
nothing is written here: the deltas are written with the deletion itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.db import models

from revy import signals
from revy.context import Context
from revy.contrib.django import conf
from revy.contrib.django.specs import spec_for

Handler = Callable[[Any, models.Field, Any, str], None]

# Marks the handlers whose changes are written when their target is deleted.
SETS_FIELD = "revy_sets_field"


def _recording(field: models.Field) -> bool:
    return Context.is_enabled() and spec_for(field.model) is not None


def _chunks(objects: Any) -> Iterator[list[models.Model]]:
    size = conf.deletion_chunk_size()
    objects = list(objects)
    for start in range(0, len(objects), size):
        yield objects[start : start + size]


def CASCADE(collector: Any, field: models.Field, sub_objs: Any, using: str) -> None:  # noqa: N802
    """Django's ``CASCADE``; each cascaded object gets a DELETE delta by the system."""
    if not _recording(field):
        return models.CASCADE(collector, field, sub_objs, using)
    for chunk in _chunks(sub_objs):
        signals.objects_cascaded.send(
            sender=field.model, field=field, objects=chunk, using=using, origin=collector.origin, collector=collector
        )
        models.CASCADE(collector, field, chunk, using)  # type: ignore[arg-type]  # any list of instances will do
    return None


def _setter(django_handler: Handler, value_of: Callable[[models.Field], Any]) -> Handler:
    def set_on_delete(collector: Any, field: models.Field, sub_objs: Any, using: str) -> None:
        if not _recording(field):
            return django_handler(collector, field, sub_objs, using)
        value = value_of(field)
        for chunk in _chunks(sub_objs):
            signals.field_set_on_delete.send(
                sender=field.model,
                field=field,
                objects=chunk,
                value=value,
                using=using,
                origin=collector.origin,
                collector=collector,
            )
            collector.add_field_update(field, value, chunk)
        return None

    setattr(set_on_delete, SETS_FIELD, True)
    lazy = getattr(django_handler, "lazy_sub_objs", False)
    if lazy:
        set_on_delete.lazy_sub_objs = True  # type: ignore[attr-defined]
    return set_on_delete


def SET(value: Any) -> Handler:  # noqa: N802
    """Django's ``SET(value)``; each changed object gets an UPDATE delta by the system."""
    handler = _setter(models.SET(value), (lambda field: value()) if callable(value) else (lambda field: value))
    handler.deconstruct = lambda: ("revy.contrib.django.deletion.SET", (value,), {})  # type: ignore[attr-defined]
    return handler


SET_NULL = _setter(models.SET_NULL, lambda field: None)
SET_NULL.__name__ = SET_NULL.__qualname__ = "SET_NULL"
SET_NULL.__doc__ = "Django's ``SET_NULL``; each changed object gets an UPDATE delta by the system."

SET_DEFAULT = _setter(models.SET_DEFAULT, lambda field: field.get_default())
SET_DEFAULT.__name__ = SET_DEFAULT.__qualname__ = "SET_DEFAULT"
SET_DEFAULT.__doc__ = "Django's ``SET_DEFAULT``; each changed object gets an UPDATE delta by the system."
