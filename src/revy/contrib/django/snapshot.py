"""``ObjectSnapshot``: an object as it was at a delta, rebuilt by the database in one query.

For every tracked field, a correlated subquery picks the newest attribute
delta of that field up to the delta at hand (its ``new_value`` for a SET, its
``old_value`` for an UNSET, so a delete gives the state just before it). The
subqueries are concatenated into one JSON text column, which the output field
turns into a model instance. A field with no attribute delta (added to the
model later, or excluded from tracking) is left out of the text and takes its
default; recorded fields the model no longer has are never asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Case, F, Func, OuterRef, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce
from django.db.models.query import ModelIterable

from revy.contrib.django import conf
from revy.contrib.django.actions import SET as ACTION_SET
from revy.contrib.django.content_types import model_of
from revy.contrib.django.specs import TRACKER_NAME, spec_for
from revy.contrib.django.values import from_stored


def tracked_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    spec = spec_for(model)
    if spec is None:
        raise TypeError(f"{model.__name__} is not tracked by revy; snapshots need its deltas.")
    return spec.fields


def build_instance(
    model: type[models.Model], stored: dict[str, Any], using: str
) -> models.Model:
    """An instance of ``model`` from stored values by field name, saveable under its pk.

    ``_state.adding`` is False, so ``save()`` tries an UPDATE and inserts when
    no row has the pk (Django forces an INSERT for a pk with a default only
    while adding). The tracker knows no saved values, so a tracked save reads
    the row first (one SELECT) and records what it puts back, or a create.
    """
    values = {
        field.attname: from_stored(field, stored[field.name])
        for field in tracked_fields(model)
        if field.name in stored
    }
    instance = model(**values)
    instance._state.adding = False
    instance._state.db = using
    getattr(instance, "_" + TRACKER_NAME).saved_data = {}
    return instance


def snapshot_of(delta: models.Model, model: type[models.Model]) -> models.Model | None:
    """The object of one ``delta`` as it was then, read from its attribute deltas.

    For a single delta this beats annotating ``ObjectSnapshot``, whose
    subqueries, one per field, cost more to compile than to run: one query
    fetches the object's attribute deltas up to ``delta``, and the newest of
    each field wins.
    """
    stored: dict[str, Any] = {}
    rows = (
        _attribute_delta_model()
        ._base_manager.using(delta._state.db)
        .filter(
            content_type_id=delta.content_type_id,  # type: ignore[attr-defined]
            content_id=delta.content_id,  # type: ignore[attr-defined]
            object_delta_id__lte=delta.pk,
        )
        .order_by("-object_delta_id")
        .values_list("field_name", "action", "old_value", "new_value")
    )
    for name, action, old_value, new_value in rows:
        if name not in stored:
            stored[name] = new_value if action == ACTION_SET else old_value
    if model._meta.pk.name not in stored:
        return None
    return build_instance(model, stored, delta._state.db or "default")


class SnapshotField(models.Field):
    """Output of ``ObjectSnapshot``: JSON text of {field index: stored value} → model instance."""

    def __init__(self, model: type[models.Model], fields: tuple[models.Field, ...]):
        super().__init__()
        self.snapshot_model = model
        self.snapshot_fields = fields

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> models.Model | None:
        if value is None:
            return None
        positions: dict[str, Any] = json.loads(value)
        stored = {self.snapshot_fields[int(i)].name: v for i, v in positions.items() if i != "_"}
        if self.snapshot_model._meta.pk.name not in stored:
            return None
        return build_instance(self.snapshot_model, stored, connection.alias)


def _attribute_delta_model() -> type[models.Model]:
    return apps.get_model(conf.attribute_delta_model_label())


def _field_value(name: str) -> Subquery:
    """The newest stored value of field ``name`` up to the outer delta, as JSON text ('null' for None)."""
    attribute_delta = _attribute_delta_model()
    stored = Case(
        When(action=ACTION_SET, then=F("new_value")),
        default=F("old_value"),
        output_field=models.JSONField(),
    )
    newest = (
        attribute_delta._base_manager.filter(
            content_type_id=OuterRef("content_type_id"),
            content_id=OuterRef("content_id"),
            field_name=name,
            object_delta_id__lte=OuterRef("pk"),
        )
        .order_by("-object_delta_id")
        .values_list(Coalesce(Cast(stored, models.TextField()), Value("null"), output_field=models.TextField()))[:1]
    )
    return Subquery(newest, output_field=models.TextField())


class ObjectSnapshot(Func):
    """``annotate(snapshot=ObjectSnapshot(Book))`` on ObjectDelta querysets: the object at that delta.

    Each row's ``snapshot`` is a ``Book`` in the state after the delta (for a
    delete, just before it), typed as loaded from the database, or None for a
    row of another model. ``snapshot.save()`` writes it back under the same
    pk: an UPDATE when the row exists, an INSERT when it was deleted. One SQL
    query for the whole queryset::

        deltas = ObjectDelta.objects.for_model(Book).annotate(snapshot=ObjectSnapshot(Book))
    """

    def __init__(self, model: type[models.Model]):
        fields = tracked_fields(model)
        meta = model._meta.concrete_model._meta  # type: ignore[union-attr]
        content_type = ContentType.objects.filter(app_label=meta.app_label, model=meta.model_name)
        super().__init__(
            F("content_type_id"),
            Subquery(content_type.values("pk")[:1]),
            *(_field_value(field.name) for field in fields),
            output_field=SnapshotField(model, fields),
        )
        self.model = model

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        compiled = [compiler.compile(expression) for expression in self.get_source_expressions()]
        (own_type, own_params), (wanted_type, wanted_params) = compiled[:2]
        params: list[Any] = [*own_params, *wanted_params]
        pieces = ["'{\"_\":0'"]
        for index, (sql, field_params) in enumerate(compiled[2:]):
            # A field without attribute delta gives NULL here and drops out of the object.
            pieces.append(f"COALESCE({self._concat(connection, ['%s', sql])}, '')")
            params.extend([f',"{index}":', *field_params])
        pieces.append("'}'")
        sql = f"CASE WHEN {own_type} = {wanted_type} THEN {self._concat(connection, pieces)} END"
        return sql, params

    @staticmethod
    def _concat(connection: Any, pieces: list[str]) -> str:
        if connection.vendor == "mysql":
            return f"CONCAT({', '.join(pieces)})"
        return "(" + " || ".join(pieces) + ")"


class SnapshotIterable(ModelIterable):
    """Model instances with ``snapshot`` attached, a bounded number of queries per chunk of rows."""

    chunk = 1000

    def __iter__(self) -> Iterator[models.Model]:
        rows: list[models.Model] = []
        for row in super().__iter__():
            rows.append(row)
            if len(rows) >= self.chunk:
                yield from attach_snapshots(rows, self.queryset.db)
                rows = []
        yield from attach_snapshots(rows, self.queryset.db)


def attach_snapshots(deltas: list[models.Model], using: str) -> Iterable[models.Model]:
    """Set ``snapshot`` on object deltas of any tracked models: one query per model among them."""
    by_type: dict[int, list[models.Model]] = {}
    for delta in deltas:
        delta.snapshot = None  # type: ignore[attr-defined]
        by_type.setdefault(delta.content_type_id, []).append(delta)  # type: ignore[attr-defined]
    for type_id, group in by_type.items():
        model = model_of(type_id, using)
        if model is None or spec_for(model) is None:
            continue
        delta_model = type(group[0])
        snapshots = dict(
            delta_model._base_manager.using(using)
            .filter(pk__in=[delta.pk for delta in group])
            .annotate(snapshot=ObjectSnapshot(model))
            .values_list("pk", "snapshot")
        )
        for delta in group:
            delta.snapshot = snapshots.get(delta.pk)  # type: ignore[attr-defined]
    return deltas
