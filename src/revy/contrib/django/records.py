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
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, models
from django.db.models import Value
from django.db.models.functions import Cast, Extract
from django.utils import timezone

from revy.contrib.django import conf
from revy.contrib.django.actions import CREATE, DELETE, SET, UPDATE
from revy.contrib.django.content_types import model_of
from revy.contrib.django.specs import spec_for
from revy.contrib.django.statements import Statement, compiled, deltas_of_one_object
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
COLUMNS = (*DELTA_COLUMNS, *FIELD_COLUMNS)
# Where the columns converted by hand are in a row.
CREATED_AT = DELTA_COLUMNS.index("created_at")
OLD_VALUE, NEW_VALUE = (len(DELTA_COLUMNS) + FIELD_NAMES.index(name) for name in ("old_value", "new_value"))


@dataclass(slots=True)
class FieldChange:
    """One field of a delta: its value before and after (typed; None after an UNSET), SET or UNSET, who set it, why."""

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
        ordering = deltas.query.order_by or (deltas.model._meta.ordering if deltas.query.default_ordering else ())
        return _fold(Statement.of(_with_fields(deltas, ordering)), {}, deltas.db)
    # The join has a row per field, so the slice is taken on the deltas first.
    order = list(deltas.values_list("pk", flat=True))
    unsliced = deltas.model._base_manager.using(deltas.db).filter(pk__in=order)
    records = _fold(Statement.of(_with_fields(unsliced, ())), {}, deltas.db)
    position = {pk: index for index, pk in enumerate(order)}
    return sorted(records, key=lambda record: position[record.pk])


def object_records(delta_model: type[models.Model], using: str, keys: dict[str, Any]) -> list[HistoryRecord]:
    """Every delta of one object (``object_keys()``) as records, in the delta model's order.

    From a statement compiled once.
    """

    def build() -> models.QuerySet:
        return _with_fields(deltas_of_one_object(delta_model, using), delta_model._meta.ordering or ())

    return _fold(compiled(("records", delta_model, using), build), keys, using)


def _with_fields(deltas: models.QuerySet, ordering: Iterable[Any]) -> models.QuerySet:
    """The columns of the records, in the deltas' ``ordering`` and each delta's fields in the order written."""
    columns = list(COLUMNS)
    if _moment_in_microseconds(deltas.db):
        # psycopg's loader of timestamptz, as Django registers it for the connection's time zone,
        # costs about 3 µs a value: a quarter of a history read of 100 changes, where the moment
        # of each delta comes again on the row of each of its fields (benchmarks.profile_reads).
        # Whole microseconds since the epoch come as an integer, made a datetime once per delta.
        epoch = Extract("created_at", "epoch") * Value(1_000_000)
        deltas = deltas.annotate(revy_created_us=Cast(epoch, models.BigIntegerField()))
        columns[CREATED_AT] = "revy_created_us"
    return deltas.values_list(*columns).order_by(*ordering, "attribute_deltas__pk")


def _moment_in_microseconds(using: str) -> bool:
    """Whether records select their moment as microseconds since the epoch (on PostgreSQL)."""
    return connections[using].vendor == "postgresql"


def _moment_of_microseconds(using: str) -> Callable[[int], datetime.datetime]:
    """A moment selected as microseconds since the epoch, as Django loads the column on ``using``."""
    connection = connections[using]
    if settings.USE_TZ:
        zone = connection.timezone
        return lambda microseconds: (EPOCH + datetime.timedelta(microseconds=microseconds)).astimezone(zone)
    local = zoneinfo.ZoneInfo(connection.timezone_name)
    return lambda microseconds: timezone.make_naive(EPOCH + datetime.timedelta(microseconds=microseconds), local)


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _fold(statement: Statement, values: dict[str, Any], using: str) -> list[HistoryRecord]:
    # Converters are applied by hand: the moment once per delta, the values once each,
    # and nothing to the other columns (Django's loop visits every column of every row).
    old_value, new_value = statement.converter(OLD_VALUE, using), statement.converter(NEW_VALUE, using)
    if _moment_in_microseconds(using):
        moment = _moment_of_microseconds(using)
    else:
        moment = statement.converter(CREATED_AT, using)
    records: dict[int, HistoryRecord] = {}
    fields_of: dict[int, dict[str, models.Field]] = {}
    for row in statement.rows(using, **values):
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
            fields = fields_of[record.content_type_id] = _tracked_fields(record.content_type_id, using)
        # No value after a field's UNSET (a delete), as ``delta.changes`` gives it too.
        old, new = old_value(old), new_value(new) if action == SET else None
        model_field = fields.get(name)
        if model_field is not None:
            old = None if old is None else from_stored(model_field, old)
            new = None if new is None else from_stored(model_field, new)
        record.changes[name] = FieldChange(old, new, action, actor_type, actor_id, label, description)
    return list(records.values())


def _tracked_fields(type_id: int, using: str | None) -> dict[str, models.Field]:
    model = model_of(type_id, using)
    spec = spec_for(model) if model is not None else None
    return {} if spec is None else {f.name: f for f in spec.fields}


def revision_descriptions(records: list[HistoryRecord], using: str) -> dict[Any, str]:
    """The description of each record's revision, by revision pk: one query."""
    revision = apps.get_model(conf.revision_model_label())
    found = revision._base_manager.using(using).filter(pk__in={r.revision_id for r in records})
    return dict(found.values_list("pk", "description"))
