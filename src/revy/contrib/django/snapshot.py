"""``ObjectSnapshot``: an object as it was at a delta, rebuilt by the database in one query.

For every tracked field, a correlated subquery picks the newest attribute
delta of that field up to the delta at hand (its ``new_value`` for a SET, its
``old_value`` for an UNSET, so a delete gives the state just before it). A
CREATE or a DELETE holds every field tracked then, so its own attribute deltas
are read instead (except on MySQL, see ``OwnChanges``). The values come as one
JSON text column by field name, which the output field turns into a model
instance. A field with no attribute delta (added to the model later, or
excluded from tracking) takes its default; recorded fields the model no
longer has are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.query import ModelIterable

from revy.contrib.django import conf
from revy.contrib.django.actions import CREATE as ACTION_CREATE
from revy.contrib.django.actions import DELETE as ACTION_DELETE
from revy.contrib.django.actions import SET as ACTION_SET
from revy.contrib.django.content_types import model_of
from revy.contrib.django.delta_rows import DeltaRowExpression
from revy.contrib.django.specs import TRACKER_NAME, spec_for
from revy.contrib.django.values import from_stored


def tracked_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    spec = spec_for(model)
    if spec is None:
        raise TypeError(f"{model.__name__} is not tracked by revy; snapshots need its deltas.")
    return spec.fields


def build_instance(model: type[models.Model], stored: dict[str, Any], using: str) -> models.Model:
    """An instance of ``model`` from stored values by field name, saveable under its pk.

    ``_state.adding`` is False, so ``save()`` tries an UPDATE and inserts when
    no row has the pk (Django forces an INSERT for a pk with a default only
    while adding). The tracker knows no saved values, so a tracked save reads
    the row first (one SELECT) and records what it puts back, or a create.
    """
    values = {
        field.attname: from_stored(field, stored[field.name]) for field in tracked_fields(model) if field.name in stored
    }
    concrete = model._meta.concrete_fields
    if len(values) == len(concrete):
        # Every field known: Django's positional path, a sixth of the instance's cost less than keywords.
        instance = model(*[values[field.attname] for field in concrete])
    else:
        instance = model(**values)  # the others take their defaults
    instance._state.adding = False
    instance._state.db = using
    getattr(instance, "_" + TRACKER_NAME).saved_data = {}
    return instance


def snapshot_of(model: type[models.Model], stored: Mapping[str, Any], using: str) -> models.Model | None:
    """The instance of ``stored`` values by field name, or None when they hold no pk (no such object)."""
    if model._meta.pk.name not in stored:
        return None
    return build_instance(model, dict(stored), using)


def stored_values(text: str | None) -> dict[str, Any]:
    """The stored values by field name of the JSON text that ``ObjectSnapshot`` and ``OwnChanges`` select."""
    if text is None:
        return {}
    values: dict[str, Any] = json.loads(text)
    values.pop("_", None)  # what the SQL of a snapshot begins its object with
    return values


class SnapshotField(models.Field):
    """Output of ``ObjectSnapshot``: JSON text of {field name: stored value} → model instance."""

    def __init__(self, model: type[models.Model]):
        super().__init__()
        self.snapshot_model = model

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> models.Model | None:
        if value is None:
            return None
        return snapshot_of(self.snapshot_model, stored_values(value), connection.alias)


@cache
def snapshot_field(model: type[models.Model]) -> SnapshotField:
    """The output field of the snapshots of ``model``: one per model, as building a field costs a read's compile."""
    return SnapshotField(model)


# What a snapshot's SQL casts its JSON text to, built once.
TEXT = models.TextField()


def _attribute_delta_model() -> type[models.Model]:
    return apps.get_model(conf.attribute_delta_model_label())


class ObjectSnapshot(DeltaRowExpression):
    """``annotate(snapshot=ObjectSnapshot(Book))`` on ObjectDelta querysets: the object at that delta.

    Each row's ``snapshot`` is a ``Book`` in the state after the delta (for a
    delete, just before it), typed as loaded from the database, or None for a
    row of another model. ``snapshot.save()`` writes it back under the same
    pk: an UPDATE when the row exists, an INSERT when it was deleted. One SQL
    query for the whole queryset::

        deltas = ObjectDelta.objects.for_model(Book).annotate(snapshot=ObjectSnapshot(Book))
    """

    def __init__(self, model: type[models.Model]):
        self.fields = tracked_fields(model)
        super().__init__(output_field=snapshot_field(model))
        self.model = model

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        own = _own_columns(self, compiler)
        fields_sql, fields_params = self.stored_sql(compiler, connection, own)
        content_type = ContentType._meta
        quote = connection.ops.quote_name
        wanted_type = (
            f"(SELECT {quote(content_type.pk.column)} FROM {quote(content_type.db_table)} "
            f"WHERE {quote('app_label')} = %s AND {quote('model')} = %s)"
        )
        meta = self.model._meta.concrete_model._meta
        page, page_params = self._returned_rows(compiler, connection, own["pk"])
        sql = f"CASE WHEN {own['content_type']} = {wanted_type}{page} THEN {fields_sql} END"
        return sql, [meta.app_label, meta.model_name, *page_params, *fields_params]

    def stored_sql(
        self, compiler: Any, connection: Any, own: dict[str, str] | None = None
    ) -> tuple[str, list[Any]]:
        """SQL of the fields' stored values at this delta as ``stored_values()`` text, the model's or not.

        The state the delta stored, when it did; else the values folded from the attribute deltas.
        """
        own = own or _own_columns(self, compiler)
        sql, params = self.folded_sql(compiler, connection, own)
        text = TEXT.cast_db_type(connection)
        return f"COALESCE(CAST({own['state']} AS {text}), {sql})", params

    def folded_sql(
        self, compiler: Any, connection: Any, own: dict[str, str] | None = None
    ) -> tuple[str, list[Any]]:
        """SQL of the fields' values at this delta folded from the attribute deltas, as ``stored_values()`` text."""
        own = own or _own_columns(self, compiler)
        names = tuple(field.name for field in self.fields)
        key = (connection.vendor, _attribute_delta_model(), names, tuple(own.values()))
        found = _stored_sql.get(key)
        if found is None:
            found = _stored_sql[key] = _fields_sql(connection, own, names)
        sql, params = found
        return sql, list(params)

    @staticmethod
    def _returned_rows(compiler: Any, connection: Any, own_pk: str) -> tuple[str, list[Any]]:
        """On PostgreSQL with an OFFSET, a condition that holds only for the rows returned, else nothing.

        PostgreSQL computes the select list of the rows an OFFSET skips too, so
        each skipped delta would cost its snapshot; the page's own pks, selected
        once, keep the snapshots to the rows returned. SQLite and MySQL skip
        those rows before computing their columns.
        """
        query = compiler.query
        if not query.low_mark or connection.vendor != "postgresql" or _selects_by_snapshot(query):
            return "", []
        page = query.clone()
        page.explain_info = None
        page.select_for_update = False
        page.clear_select_clause()
        page.select = (page.get_meta().pk.get_col(page.get_initial_alias()),)  # add_fields()'s, without its lookup
        sql, params = page.get_compiler(connection=connection).as_sql()
        return f" AND {own_pk} IN (SELECT * FROM ({sql}) revy_page)", list(params)

class DeleteSnapshot(ObjectSnapshot):
    """``ObjectSnapshot`` on rows known to be DELETE deltas, which unset every field tracked then.

    Their state, or else their own attribute deltas: one seek on their object
    delta key, and none of the per-field SQL for the database to plan.
    """

    def folded_sql(self, compiler: Any, connection: Any, own: dict[str, str] | None = None) -> tuple[str, list[Any]]:
        if connection.vendor == "mysql":  # GROUP_CONCAT would cut the values
            return super().folded_sql(compiler, connection, own)
        return own_changes_sql(connection, own or _own_columns(self, compiler))


class FoldedState(ObjectSnapshot):
    """For rows known to be deltas of ``model``: the fields folded from the attribute deltas, as text.

    Not the state a delta stored: what ``ObjectSnapshot`` gives a delta that stored none.
    """

    def __init__(self, model: type[models.Model]):
        super().__init__(model)
        self.output_field = models.TextField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        return self.folded_sql(compiler, connection)


class OwnChanges(DeltaRowExpression):
    """The values an object delta's own attribute deltas give its fields, as ``stored_values()`` text.

    For a SET the value set, for an UNSET the value it had; many-to-many
    members come under their relation's name. One seek on the attribute
    deltas' object delta key, however many fields the model has: a page of
    one object's deltas folds these onto the snapshot of its oldest delta
    instead of seeking every field for every delta. Not on MySQL, whose
    ``GROUP_CONCAT`` cuts its text at ``group_concat_max_len``.
    """

    output_field = models.TextField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        return own_changes_sql(connection, _own_columns(self, compiler))


# The SQL of stored_sql() by database, attribute delta model, fields and the delta's columns: a
# twentieth of the Python of a snapshot read by position was building this text again.
_stored_sql: dict[tuple[Any, ...], tuple[str, list[Any]]] = {}


def _fields_sql(connection: Any, own: dict[str, str], names: tuple[str, ...]) -> tuple[str, list[Any]]:
    # Written out rather than built from one Subquery per field: compiling those
    # querysets cost ten times what the database takes to run them.
    column, attributes = _attribute_columns(connection)
    # The newest attribute delta of one field up to this delta: a seek on the attribute deltas'
    # (content_type, content_id, field_name, object_delta) index, whatever the history's length.
    newest = (
        f"FROM {attributes} WHERE {column['content_type']} = {own['content_type']} "
        f"AND {column['content_id']} = {own['content_id']} AND {column['field_name']} = {{name}} "
        f"AND {column['object_delta']} <= {own['pk']} ORDER BY {column['object_delta']} DESC LIMIT 1"
    )
    stored = _stored_value(connection, column)
    if connection.vendor == "postgresql":
        # One correlated subquery for all fields, seeking once per field name: PostgreSQL
        # plans it in half the time of one subquery per field (benchmarks.profile_reads).
        fields_sql = (
            f"(SELECT '{{\"_\":0' || COALESCE(string_agg(',\"' || revy_field.name || '\":' || "
            f"{stored.format(row='revy_newest.')}, ''), '') || '}}' "
            "FROM unnest(%s::text[]) AS revy_field(name) CROSS JOIN LATERAL "
            f"(SELECT {column['action']}, {column['new_value']}, {column['old_value']} "
            f"{newest.format(name='revy_field.name')}) revy_newest)"
        )
        fields_params: list[Any] = [ACTION_SET, list(names)]
    else:
        pieces = ["'{\"_\":0'"]
        fields_params = []
        for name in names:
            # A field without attribute delta gives NULL here and drops out of the object.
            value = _concat(connection, ["%s", stored.format(row="")])
            pieces.append(f"COALESCE((SELECT {value} {newest.format(name='%s')}), '')")
            fields_params.extend([f',"{name}":', ACTION_SET, name])
        pieces.append("'}'")
        fields_sql = _concat(connection, pieces)
    if connection.vendor != "mysql":
        # A CREATE or DELETE has an attribute delta for every field tracked then, which is the
        # state: one seek on its object delta key, where the newest per field takes one per field.
        own_sql, own_params = own_changes_sql(connection, own)
        fields_sql = f"CASE WHEN {own['action']} IN (%s, %s) THEN {own_sql} ELSE {fields_sql} END"
        fields_params = [ACTION_CREATE, ACTION_DELETE, *own_params, *fields_params]
    return fields_sql, fields_params


def own_changes_sql(connection: Any, own: dict[str, str]) -> tuple[str, list[Any]]:
    """SQL of the values the attribute deltas of the object delta ``own`` give, as ``stored_values()`` text."""
    assert connection.vendor != "mysql", "GROUP_CONCAT would cut the values"
    column, attributes = _attribute_columns(connection)
    aggregate = "string_agg" if connection.vendor == "postgresql" else "group_concat"
    value = f"',\"' || {column['field_name']} || '\":' || {_stored_value(connection, column).format(row='')}"
    sql = (
        f"(SELECT '{{\"_\":0' || COALESCE({aggregate}({value}, ''), '') || '}}' "
        f"FROM {attributes} WHERE {column['object_delta']} = {own['pk']})"
    )
    return sql, [ACTION_SET]


def _own_columns(expression: DeltaRowExpression, compiler: Any) -> dict[str, str]:
    return expression.columns_sql(compiler, "content_type", "content_id", "pk", "action", "state")


def _attribute_columns(connection: Any) -> tuple[dict[str, str], str]:
    """The attribute deltas' columns a snapshot reads, and their table, quoted."""
    quote = connection.ops.quote_name
    attribute = _attribute_delta_model()._meta
    wanted = ("content_type", "content_id", "field_name", "object_delta", "action", "new_value", "old_value")
    return {f.name: quote(f.column) for f in attribute.concrete_fields if f.name in wanted}, quote(attribute.db_table)


def _stored_value(connection: Any, column: dict[str, str]) -> str:
    """SQL of an attribute delta's stored value as JSON text (the one set, or unset), ``{row}`` its table."""
    text = TEXT.cast_db_type(connection)
    return (
        f"COALESCE(CAST(CASE WHEN {{row}}{column['action']} = %s THEN {{row}}{column['new_value']} "
        f"ELSE {{row}}{column['old_value']} END AS {text}), 'null')"
    )


def _concat(connection: Any, pieces: list[str]) -> str:
    if connection.vendor == "mysql":
        return f"CONCAT({', '.join(pieces)})"
    return "(" + " || ".join(pieces) + ")"


def _selects_by_snapshot(query: Any) -> bool:
    """Whether ``query`` filters or orders on a snapshot: its value must then be there for every row."""
    snapshots = {name for name, value in query.annotations.items() if isinstance(value, ObjectSnapshot)}
    ordered = {str(order).lstrip("-") for order in query.order_by}
    return bool(snapshots & ordered) or _holds_snapshot(query.where)


def _holds_snapshot(expression: Any) -> bool:
    if isinstance(expression, ObjectSnapshot):
        return True
    return any(_holds_snapshot(source) for source in getattr(expression, "get_source_expressions", list)())


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
