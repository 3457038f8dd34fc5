"""History records: object deltas with the fields each changed, typed, read in one query.

A history page needs every delta of an object and, for each, the fields it
set or unset. Model instances of both tables (a queryset of attribute
deltas per object delta, or a prefetch) cost several times what the rows
do; ``read_records()`` selects the object deltas joined to their attribute
deltas as plain values and folds them into small records, each value typed
as the model loads it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from django.db import models
from django.db.models.sql.constants import MULTI

from revy.contrib.django.actions import CREATE, DELETE, UPDATE
from revy.contrib.django.content_types import model_of
from revy.contrib.django.specs import spec_for
from revy.contrib.django.values import from_stored

ACTION_NAMES = {CREATE: "create", UPDATE: "update", DELETE: "delete"}

DELTA_COLUMNS = (
    "pk",
    "revision_id",
    "action",
    "content_type_id",
    "content_id",
    "actor_content_type_id",
    "actor_id",
    "actor_label",
    "description",
    "created_at",
)
FIELD_NAMES = (
    "field_name",
    "action",
    "old_value",
    "new_value",
    "actor_content_type_id",
    "actor_id",
    "actor_label",
    "description",
)
FIELD_COLUMNS = tuple(f"attribute_deltas__{name}" for name in FIELD_NAMES)
# Where the columns converted by hand are in a row.
CREATED_AT = DELTA_COLUMNS.index("created_at")
OLD_VALUE, NEW_VALUE = (len(DELTA_COLUMNS) + FIELD_NAMES.index(name) for name in ("old_value", "new_value"))


@dataclass(slots=True)
class FieldChange:
    """One field of a delta: its value before and after (typed), SET or UNSET, and who set it, why."""

    old: Any
    new: Any
    action: int
    actor_content_type_id: int | None
    actor_id: str | None
    actor_label: str
    description: str


@dataclass(slots=True)
class HistoryRecord:
    """One object delta and the fields it changed, by field name (``changes``)."""

    pk: int
    revision_id: int
    action: int
    content_type_id: int
    content_id: str
    actor_content_type_id: int | None
    actor_id: str | None
    actor_label: str
    description: str
    created_at: datetime.datetime
    changes: dict[str, FieldChange] = field(default_factory=dict)

    def get_action_display(self) -> str:
        """``"create"``, ``"update"`` or ``"delete"``, as on the object delta."""
        return ACTION_NAMES.get(self.action, str(self.action))


def read_records(deltas: models.QuerySet) -> list[HistoryRecord]:
    """The object deltas of ``deltas`` as records, in its order: one query (two for a slice).

    Values of fields the model still tracks are typed through the field; those
    of fields it no longer has are given as stored.
    """
    if not deltas.query.is_sliced:
        return _fold(deltas)
    # The join has a row per field, so the slice is taken on the deltas first.
    order = list(deltas.values_list("pk", flat=True))
    records = _fold(deltas.model._base_manager.using(deltas.db).filter(pk__in=order).order_by())
    position = {pk: index for index, pk in enumerate(order)}
    return sorted(records, key=lambda record: position[record.pk])


def _fold(deltas: models.QuerySet) -> list[HistoryRecord]:
    compiler = deltas.values_list(*DELTA_COLUMNS, *FIELD_COLUMNS).query.get_compiler(using=deltas.db)
    chunks = compiler.execute_sql(MULTI)
    # Converters are applied by hand: the moment once per delta, the values once each,
    # and nothing to the other columns (Django's loop visits every column of every row).
    converters = compiler.get_converters([column[0] for column in compiler.select])
    moment, old_value, new_value = (_converter(compiler, converters.get(i)) for i in (CREATED_AT, OLD_VALUE, NEW_VALUE))
    records: dict[int, HistoryRecord] = {}
    fields_of: dict[int, dict[str, models.Field]] = {}
    for row in chain.from_iterable(chunks):
        record = records.get(row[0])
        if record is None:
            pk, revision_id, action, type_id, content_id, actor_type, actor_id, label, description, created_at = row[
                : len(DELTA_COLUMNS)
            ]
            record = records[pk] = HistoryRecord(
                pk,
                revision_id,
                action,
                type_id,
                content_id,
                actor_type,
                actor_id,
                label,
                description,
                moment(created_at),
            )
        name, action, old, new, actor_type, actor_id, label, description = row[len(DELTA_COLUMNS) :]
        if name is None:  # a delta without attribute deltas
            continue
        fields = fields_of.get(record.content_type_id)
        if fields is None:
            fields = fields_of[record.content_type_id] = _tracked_fields(record.content_type_id, deltas.db)
        old, new = old_value(old), new_value(new)
        model_field = fields.get(name)
        if model_field is not None:
            old = None if old is None else from_stored(model_field, old)
            new = None if new is None else from_stored(model_field, new)
        record.changes[name] = FieldChange(old, new, action, actor_type, actor_id, label, description)
    return list(records.values())


def _converter(compiler: Any, found: tuple[list[Any], Any] | None) -> Callable[[Any], Any]:
    """The database-to-Python conversion of one selected column, as ``values_list()`` applies it."""
    if found is None:
        return lambda value: value
    converters, expression = found
    connection = compiler.connection

    def convert(value: Any) -> Any:
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return convert


def _tracked_fields(type_id: int, using: str | None) -> dict[str, models.Field]:
    model = model_of(type_id, using)
    spec = spec_for(model) if model is not None else None
    return {} if spec is None else {f.name: f for f in spec.fields}
