"""Writing deltas: one INSERT for the object deltas of a change, one for their attributes.

Deltas are plain rows, so they are written with plain SQL compiled once per
table and database: no model instance is built and no field is prepared
twice. Values are encoded to JSON here, through their fields (see
``values``), before anything is written, so a value that cannot be stored
raises ``revy.EncodingError`` naming the field.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

from django.apps import apps
from django.db import connections, models, transaction
from django.utils import timezone

from revy.context import Context
from revy.contrib.django import conf
from revy.contrib.django.actions import SET
from revy.contrib.django.content_types import content_type_of
from revy.contrib.django.values import RevyJSONEncoder, fields_by_name, storable
from revy.errors import EncodingError, InvalidActor, MisconfiguredModel

REVISION_COLUMNS = ("description", "created_at")
OBJECT_DELTA_COLUMNS = (
    "revision_id",
    "actor_content_type_id",
    "actor_id",
    "actor_label",
    "action",
    "description",
    "content_type_id",
    "content_id",
    "created_at",
    "state",
)
ATTRIBUTE_DELTA_COLUMNS = (
    "revision_id",
    "object_delta_id",
    "actor_content_type_id",
    "actor_id",
    "actor_label",
    "action",
    "description",
    "content_type_id",
    "content_id",
    "field_name",
    "old_value",
    "new_value",
    "created_at",
)


@dataclass(slots=True)
class AttributeEntry:
    name: str
    action: int
    actor: Any
    description: str
    old_value: Any
    new_value: Any


@dataclass(slots=True)
class ObjectEntry:
    model: type[models.Model]
    pk: Any
    action: int
    actor: Any
    description: str
    attributes: list[AttributeEntry] = field(default_factory=list)
    # An update's tracked fields after it, by name, when the write knows them all (a save of every
    # field); None: the object delta stores none. A create's and a delete's are their attributes.
    state: dict[str, Any] | None = None
    state_json: str | None = None  # the state as JSON text, set by encode_entries()


def is_shared(values: tuple[Any, ...]) -> bool:
    """Whether a column of rows holds one value in every row (of one type: ``1`` is not ``True``)."""
    first = values[0]
    # The last value first: it settles most columns that differ without a scan.
    return values[-1] == first and values.count(first) == len(values) and set(map(type, values)) == {type(first)}


def pg_array(values: tuple[Any, ...]) -> str | list[Any]:
    """A PostgreSQL array parameter of ``values``: its literal when they are text, integers or NULL.

    psycopg quotes each element of a list it adapts in Python, which for the
    hundreds of values of a deletion costs more than the INSERT itself. In
    the literal every element but NULL is double-quoted, with backslash and
    double quote escaped, which PostgreSQL reads back as the same text.
    """
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        elif type(value) is str:
            items.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif type(value) is int:
            items.append(str(value))
        else:
            return list(values)  # psycopg knows the rest
    return "{" + ",".join(items) + "}"


def column_of(field: models.Field) -> str:
    """The column of a field of a prepared model (Django's stubs allow None before it is prepared)."""
    assert field.column is not None
    return field.column


class TableWriter:
    """INSERTs of rows into one model's table on one database, compiled once."""

    def __init__(self, model: type[models.Model], using: str, columns: tuple[str, ...]):
        connection = connections[using]
        self.using = using
        known = {f.attname: f for f in model._meta.concrete_fields}
        missing = [name for name in columns if name not in known]
        if missing:
            raise MisconfiguredModel(
                f"{model._meta.label} lacks the fields {missing}; build it from revy's abstract bases."
            )
        pk = model._meta.pk
        self.table = model._meta.db_table
        self.pk_column = column_of(pk)
        # Fields a swapped model adds take their defaults.
        self.extra = [f for name, f in known.items() if name not in columns and not (f is pk and f.db_returning)]
        qn = connection.ops.quote_name
        fields = [known[name] for name in columns] + self.extra
        self.quoted = [qn(column_of(f)) for f in fields]
        self.quoted_pk = qn(self.pk_column)
        self.row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        self.into = f"INSERT INTO {qn(self.table)} ({', '.join(self.quoted)}) "
        self.prefix = self.into + "VALUES "
        self.width = len(fields)
        # On PostgreSQL rows go as one parameter per column (a value, or an array to
        # ``unnest``): a statement of a dozen parameters whatever the number of rows,
        # which the driver parses once.
        types = [f.db_type(connection) for f in fields]
        self.pg_types: list[str] | None = None
        if connection.vendor == "postgresql" and all(types):
            self.pg_types = types  # type: ignore[assignment]
        self.sqlite = connection.vendor == "sqlite"
        features = connection.features
        self.returning = features.can_return_columns_from_insert
        self.bulk_returning = features.can_return_rows_from_bulk_insert
        # SQLite and PostgreSQL cap the parameters of one statement. Django assumes SQLite's
        # old cap of 999 (83 attribute rows per INSERT); the library in use knows its own.
        if self.sqlite:
            connection.ensure_connection()
            max_params = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        else:
            max_params = getattr(features, "max_query_params", None) or 65535
        self.batch_rows = max(1, min(2000, max_params // self.width))

    def _complete(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not self.extra:
            return rows
        connection = connections[self.using]
        defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in self.extra)
        return [row + defaults for row in rows]

    def select(self, rows: list[tuple[Any, ...]], given: dict[int, str], source: str = "") -> tuple[str, list[Any]]:
        """A ``SELECT`` of ``rows`` for PostgreSQL, with a dozen parameters whatever their number.

        A column holding one value in every row is one parameter, any other
        column one array (``unnest``). The columns in ``given`` take that SQL
        expression instead, reading from the table ``source`` (such as a CTE).
        """
        assert self.pg_types is not None
        scalars: list[Any] = []
        arrays: list[Any] = []
        select: list[str] = []
        unnested: list[str] = []
        for i, values in enumerate(zip(*self._complete(rows), strict=True)):
            if i in given:
                select.append(given[i])
            elif is_shared(values):
                select.append(f"%s::{self.pg_types[i]}")
                scalars.append(values[0])
            else:
                select.append(f"a.c{i}")
                unnested.append(f"%s::{self.pg_types[i]}[]")
                arrays.append(pg_array(values))
        tables = [source] if source else []
        if unnested:
            names = ", ".join(name.removeprefix("a.") for name in select if name.startswith("a.c"))
            tables.append(f"unnest({', '.join(unnested)}) AS a({names})")
        sql = "SELECT " + ", ".join(select) + (" FROM " + ", ".join(tables) if tables else "")
        return sql, scalars + arrays

    def select_values(self, rows: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
        """A ``SELECT`` of ``rows`` for SQLite, with one parameter per value that differs between rows.

        A column holding one value in every row is one parameter, the others
        are read from a ``VALUES`` list. Of the deltas of a deletion only the
        object, field and old value differ, so the statement has a third of
        the parameters of a plain multi-row INSERT, and SQLite (and Django,
        which rewrites every placeholder) has that much less to do.
        """
        columns = list(zip(*rows, strict=True))
        shared = [is_shared(values) for values in columns]
        scalars = [values[0] for values, same in zip(columns, shared, strict=True) if same]
        varying = [values for values, same in zip(columns, shared, strict=True) if not same]
        names = iter(range(1, len(varying) + 1))  # SQLite names the columns of VALUES column1, column2, ...
        sql = "SELECT " + ", ".join("%s" if same else f"column{next(names)}" for same in shared)
        if varying:
            row_sql = "(" + ", ".join(["%s"] * len(varying)) + ")"
            sql += " FROM (VALUES " + ", ".join([row_sql] * len(rows)) + ")"
        return sql, scalars + [value for row in zip(*varying, strict=True) for value in row]

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        if self.pg_types is not None:
            sql, params = self.select(rows, {})
            with connections[self.using].cursor() as cursor:
                cursor.execute(self.into + sql, params)
            return
        rows = self._complete(rows)
        with connections[self.using].cursor() as cursor:
            for start in range(0, len(rows), self.batch_rows):
                batch = rows[start : start + self.batch_rows]
                if self.sqlite:
                    sql, params = self.select_values(batch)
                    cursor.execute(self.into + sql, params)
                else:
                    sql = self.prefix + ", ".join([self.row_sql] * len(batch))
                    cursor.execute(sql, [value for row in batch for value in row])

    def insert_returning_ids(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        connection = connections[self.using]
        if self.pg_types is not None and len(rows) > 1:
            # PostgreSQL returns the rows of one INSERT ... SELECT in order; bulk_create relies on it too.
            sql, params = self.select(rows, {})
            with connection.cursor() as cursor:
                cursor.execute(f"{self.into}{sql} RETURNING {self.quoted_pk}", params)
                return [row[0] for row in cursor.fetchall()]
        rows = self._complete(rows)
        ids: list[Any] = []
        with connection.cursor() as cursor:
            if len(rows) > 1 and self.bulk_returning:
                for start in range(0, len(rows), self.batch_rows):
                    batch = rows[start : start + self.batch_rows]
                    sql = self.prefix + ", ".join([self.row_sql] * len(batch))
                    cursor.execute(f"{sql} RETURNING {self.quoted_pk}", [v for row in batch for v in row])
                    ids.extend(row[0] for row in cursor.fetchall())
                return ids
            for row in rows:
                if self.returning:
                    cursor.execute(f"{self.prefix}{self.row_sql} RETURNING {self.quoted_pk}", row)
                    ids.append(cursor.fetchone()[0])
                else:
                    cursor.execute(self.prefix + self.row_sql, row)
                    ids.append(connection.ops.last_insert_id(cursor, self.table, self.pk_column))
        return ids


@dataclass
class Writers:
    revision: TableWriter
    object_delta: TableWriter
    attribute_delta: TableWriter

    @cached_property
    def in_one_statement(self) -> bool:
        """Whether a change's rows can go in one statement (PostgreSQL's data-modifying CTEs)."""
        return all(w.pg_types is not None for w in (self.revision, self.object_delta, self.attribute_delta))


CHANGE = "revy_change"


@dataclass
class Change:
    """Django's own write of one object's row, to run in the statement that writes its deltas.

    Other code may have rewritten Django's statement before revy sees it:
    ``head`` is what stands before it (comments, or whole statements such
    as pghistory's ``SELECT set_config(...);``) with its ``head_params``,
    ``tail`` the comments after it (a ``-- tag`` included). ``pk`` is the
    column of the primary key the INSERT returns when the object had none
    before it, else ''.
    """

    sql: str
    params: list[Any]
    head: str = ""
    head_params: list[Any] = field(default_factory=list)
    tail: str = ""
    pk: str = ""

    @property
    def inserts(self) -> bool:
        return self.sql.startswith("INSERT")

    @property
    def deletes(self) -> bool:
        return self.sql.startswith("DELETE")

    @property
    def returns(self) -> bool:
        return " RETURNING " in self.sql

    @classmethod
    def of(cls, instance: models.Model, sql: Any, params: Any, connection: Any) -> Change | None:
        """Django's INSERT, UPDATE or DELETE of ``instance``'s row in ``sql`` run on ``connection``, or None."""
        if not isinstance(sql, str) or not isinstance(params, list | tuple):
            return None
        qn = connection.ops.quote_name
        meta = instance._meta
        table, pk = qn(meta.db_table), qn(column_of(meta.pk))
        parts = split_statement(sql, (f"INSERT INTO {table} ", f"UPDATE {table} SET ", f"DELETE FROM {table} "))
        if parts is None:
            return None
        head, body, tail = parts
        count = len(PLACEHOLDER.findall(head))
        if "%%" in head or count > len(params):
            return None
        head_params, own = list(params[:count]), list(params[count:])
        change = cls(body, own, head, head_params, tail)
        if change.deletes:
            whole = body == f"DELETE FROM {table} WHERE {table}.{pk} IN (%s)" and own == [instance.pk]
            return change if whole else None
        if not change.inserts:
            # Django's UPDATE of this one row by its pk, not a receiver's update() of others.
            ours = body.endswith(f" WHERE {table}.{pk} = %s") and own[-1:] == [instance.pk]
            return change if ours else None
        if ") VALUES (" not in body or "), (" in body:
            return None  # not one row: bulk_create's
        if instance.pk is None and f".{pk}" in body.rpartition(" RETURNING ")[2]:
            change.pk = pk
        return change


PLACEHOLDER = re.compile("%s")


def split_statement(sql: str, starts: tuple[str, ...]) -> tuple[str, str, str] | None:
    """``sql`` as (what stands before the statement that begins with one of ``starts``, it, the comments after it).

    Before it may stand white space, comments and whole statements ended by
    ``;``; after it, white space and comments. None when ``sql`` is not so
    (a ``;`` after it included).
    """
    position, length = 0, len(sql)
    while True:
        while position < length and sql[position].isspace():
            position += 1
        if sql.startswith(starts, position):
            break
        if sql.startswith("/*", position):
            end = sql.find("*/", position + 2)
            position = -1 if end == -1 else end + 2
        elif sql.startswith("--", position):
            end = sql.find("\n", position)
            position = -1 if end == -1 else end + 1
        else:
            position = _after_statement(sql, position)
        if position == -1:
            return None
    head, rest = sql[:position], sql[position:]
    body = rest.rstrip()
    while True:  # comments at the end, the last first
        start = body.rfind("/*") if body.endswith("*/") else body.find("--", body.rfind("\n") + 1)
        if start <= 0:
            break
        body = body[:start].rstrip()
    if body.endswith(";"):
        return None  # a statement ended: nothing can follow it inside a CTE
    return head, body, rest[len(body) :]


def _after_statement(sql: str, position: int) -> int:
    """Where the statement at ``position`` ends, past its ``;`` (quoted text skipped); -1 if it does not."""
    quote = ""
    for index in range(position, len(sql)):
        char = sql[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == ";":
            return index + 1
    return -1


def one_statement(
    using: str,
    entry: ObjectEntry,
    encoded: list[tuple[AttributeEntry, str | None, str | None]],
    rows: Rows,
    change: Change | None = None,
) -> tuple[str, list[Any]]:
    """A PostgreSQL statement writing one object delta with its attribute deltas (data-modifying CTEs).

    When ``rows.rev`` is None it also creates the scope's revision and returns
    its id in the last column. With a ``change``, the deltas (and the revision)
    are written only if that statement writes a row, and the statement returns
    that statement's rows (the revision's id appended): Django reads them, or
    the row count, as its own.
    """
    writers = writers_for(using)
    revision, object_delta, attribute_delta = writers.revision, writers.object_delta, writers.attribute_delta
    ctes: list[str] = []
    params: list[Any] = []
    sources: list[str] = []  # the CTEs every delta row is selected from: no row there, no delta
    outputs: list[str] = []
    if change is not None:
        sql = change.sql if change.returns else f"{change.sql} RETURNING 1"
        # The tail's comments end before the CTE does, a `-- tag` too.
        ctes.append(f"{CHANGE} AS ({sql}{change.tail}\n)")
        params += change.params
        sources.append(CHANGE)
        outputs.append(f"{CHANGE}.*")
    given: dict[int, str] = {}
    if rows.rev is None:
        sql, values = revision.select([rows.revision_row()], {}, ", ".join(sources))
        ctes.append(f"revy_r AS ({revision.into}{sql} RETURNING {revision.quoted_pk})")
        params += values
        sources.append("revy_r")
        outputs.append(f"revy_r.{revision.quoted_pk}")
        given[OBJECT_DELTA_COLUMNS.index("revision_id")] = f"revy_r.{revision.quoted_pk}"
    if change is not None and change.pk:
        given[OBJECT_DELTA_COLUMNS.index("content_id")] = f"({CHANGE}.{change.pk})::text"
    sql, values = object_delta.select([rows.object_row(entry)], given, ", ".join(sources))
    shared = ("revision_id", "content_type_id", "content_id", "created_at")
    returned = {name: object_delta.quoted[OBJECT_DELTA_COLUMNS.index(name)] for name in shared}
    ctes.append(
        f"revy_o AS ({object_delta.into}{sql} RETURNING {object_delta.quoted_pk}, {', '.join(returned.values())})"
    )
    params += values
    given = {ATTRIBUTE_DELTA_COLUMNS.index(name): f"revy_o.{column}" for name, column in returned.items()}
    given[ATTRIBUTE_DELTA_COLUMNS.index("object_delta_id")] = f"revy_o.{object_delta.quoted_pk}"
    attribute_rows = rows.attribute_rows(entry, None, encoded)
    selects: list[str] = []
    if change is not None and change.pk:
        # The primary key's own delta takes the value the INSERT returns (JSON of an integer is its text).
        pk = entry.model._meta.pk
        assert pk is not None
        pk_name = pk.name
        is_pk = [attribute.name == pk_name for attribute, _, _ in encoded]
        pk_row = [row for row, pk in zip(attribute_rows, is_pk, strict=True) if pk]
        attribute_rows = [row for row, pk in zip(attribute_rows, is_pk, strict=True) if not pk]
        sql, values = attribute_delta.select(
            pk_row, {**given, ATTRIBUTE_DELTA_COLUMNS.index("new_value"): f"to_jsonb({CHANGE}.{change.pk})"},
            f"revy_o, {CHANGE}",
        )
        selects.append(sql)
        params += values
    if attribute_rows:
        sql, values = attribute_delta.select(attribute_rows, given, "revy_o")
        selects.append(sql)
        params += values
    ctes.append(f"revy_a AS ({attribute_delta.into}{' UNION ALL '.join(selects)})")
    main = "SELECT " + (", ".join(outputs) or "1") + (" FROM " + ", ".join(sources) if sources else "")
    if change is not None and change.head:
        return f"{change.head}WITH {', '.join(ctes)} {main}", change.head_params + params
    return f"WITH {', '.join(ctes)} {main}", params


@cache
def writers_for(using: str) -> Writers:
    return Writers(
        # The models in use, by their settings: the writer sits below the models module.
        TableWriter(apps.get_model(conf.revision_model_label()), using, REVISION_COLUMNS),
        TableWriter(apps.get_model(conf.object_delta_model_label()), using, OBJECT_DELTA_COLUMNS),
        TableWriter(apps.get_model(conf.attribute_delta_model_label()), using, ATTRIBUTE_DELTA_COLUMNS),
    )


def _encoder() -> json.JSONEncoder:
    # Keyed by the class, which conf forgets when REVY_JSON_ENCODER changes.
    return _encoder_of(conf.json_encoder())  # type: ignore[arg-type]  # classes are hashable; mypy misses it


@cache
def _encoder_of(encoder_class: type[json.JSONEncoder]) -> json.JSONEncoder:
    return encoder_class()


# Values whose JSON is written without the encoder when it is revy's own, which would
# write exactly this for them; any other encoder (a subclass too) is given every value.
PLAIN_JSON: dict[type, Callable[[Any], str]] = {
    str: json.encoder.encode_basestring_ascii,
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    # Stored as they are (values.storable) and written by the encoder as their text, which
    # needs no escaping: the encoder's machinery was a tenth of a bulk_create()'s Python per row.
    decimal.Decimal: lambda value: f'"{value}"',
    datetime.datetime: lambda value: f'"{value.isoformat()}"',
    datetime.date: lambda value: f'"{value.isoformat()}"',
    datetime.time: lambda value: f'"{value.isoformat()}"',
}


def value_encoder() -> Callable[[ObjectEntry, AttributeEntry, Any], str | None]:
    """What encodes the values of attributes now: ``(entry, attribute, value) -> JSON text or None``.

    A value goes through its field first (``values.storable``). Raises
    ``revy.EncodingError`` for a value that still cannot be stored.
    """
    encoder = _encoder()
    plain = PLAIN_JSON if type(encoder) is RevyJSONEncoder else {}

    def encode(entry: ObjectEntry, attribute: AttributeEntry, value: Any) -> str | None:
        if value is None:
            return None
        to_json = plain.get(type(value))
        if to_json is not None:
            return to_json(value)
        field = fields_by_name(entry.model).get(attribute.name)  # None: not a concrete field (many-to-many)
        try:
            return encoder.encode(value if field is None else storable(field, value))
        except (TypeError, ValueError) as error:
            raise EncodingError(
                f"{entry.model._meta.label}.{attribute.name} = {value!r} cannot be stored as JSON "
                f"by {type(encoder).__name__} ({error}); give the field a value_to_string() that its "
                "to_python() reads back, or set REVY_JSON_ENCODER to an encoder that can."
            ) from error

    return encode


def actor_key(actor: Any, using: str) -> tuple[int | None, str | None]:
    """The (content type id, id text) stored for ``actor``; (None, None) is the system."""
    if actor is None:
        return None, None
    meta = getattr(actor, "_meta", None)
    if meta is None or actor.pk is None:
        raise InvalidActor(f"An actor must be a saved model instance or None, not {actor!r}.")
    return content_type_of(meta.model, using).pk, str(actor.pk)


class PendingRevision:
    """A revision created under the outermost scope; dropped if its transaction rolls back."""

    __slots__ = ("committed", "pk")

    def __init__(self, pk: Any):
        self.pk = pk
        self.committed = False

    def commit(self) -> None:
        self.committed = True

    def is_live(self, using: str) -> bool:
        if self.committed:
            return True
        # Django drops the on_commit callbacks of rolled-back transactions and savepoints.
        return any(entry[1] == self.commit for entry in connections[using].run_on_commit)


def existing_revision_id(using: str) -> Any:
    """The revision of the current scope, or None while the scope has none yet."""
    shared = Context.outermost_data()
    assert shared is not None, "deltas are only written inside a context"
    explicit = Context.get_revision()
    if explicit is not None:
        return explicit_revision_id(explicit, using, shared)
    pending: PendingRevision | None = shared.get(f"revision:{using}")
    return pending.pk if pending is not None and pending.is_live(using) else None


def explicit_revision_id(revision: models.Model, using: str, shared: dict[str, Any]) -> Any:
    """The pk of a revision given to the context (or by its lazy factory), saved when it is not.

    A revision saved (or made by a factory) inside a transaction that rolled
    back has a pk but no row any more: it is written again.
    """
    key = f"explicit:{id(revision)}:{using}"
    seen: PendingRevision | None = shared.get(key)
    lost = (
        seen is not None
        and seen.pk == revision.pk
        and not seen.is_live(using)
        and not type(revision)._base_manager.using(using).filter(pk=revision.pk).exists()
    )
    if revision.pk is None or lost:
        revision.pk = None
        revision.save(using=using)
    if seen is None or seen.pk != revision.pk or lost:
        seen = shared[key] = PendingRevision(revision.pk)
        transaction.on_commit(seen.commit, using=using)
    return revision.pk


def adopt_revision(using: str, pk: Any) -> None:
    """Make the revision ``pk``, just created, the current scope's."""
    shared = Context.outermost_data()
    assert shared is not None, "deltas are only written inside a context"
    pending = shared[f"revision:{using}"] = PendingRevision(pk)
    transaction.on_commit(pending.commit, using=using)


class Rows:
    """The delta rows of some entries in one revision (``rev`` None: a revision SQL makes)."""

    def __init__(self, using: str, entries: list[ObjectEntry], rev: Any):
        self.using = using
        self.rev = rev
        self.now = connections[using].ops.adapt_datetimefield_value(timezone.now())
        self.content_types = {model: content_type_of(model, using).pk for model in {entry.model for entry in entries}}
        self.actors: dict[int, tuple[int | None, str | None, str]] = {}

    def revision_row(self) -> tuple[Any, ...]:
        """The row of the scope's revision, created at its first delta."""
        return (Context.get_revision_description(), self.now)

    def actor(self, actor: Any) -> tuple[int | None, str | None, str]:
        """The actor's key and label columns; the label names the actor after its row is gone."""
        columns = self.actors.get(id(actor))
        if columns is None:
            label = "" if actor is None else str(conf.actor_label()(actor))
            columns = self.actors[id(actor)] = (*actor_key(actor, self.using), label)
        return columns

    def object_row(self, entry: ObjectEntry) -> tuple[Any, ...]:
        return (
            self.rev,
            *self.actor(entry.actor),
            entry.action,
            entry.description or "",
            self.content_types[entry.model],
            str(entry.pk),
            self.now,
            entry.state_json,
        )

    def attribute_rows(
        self, entry: ObjectEntry, delta_id: Any, encoded: list[tuple[AttributeEntry, str | None, str | None]]
    ) -> list[tuple[Any, ...]]:
        content_type, content_id, rev, now = self.content_types[entry.model], str(entry.pk), self.rev, self.now
        # Fields are mostly the object's actor's: its columns are looked up once per object.
        own_actor, own_columns = entry.actor, self.actor(entry.actor)
        return [
            (
                rev,
                delta_id,
                *(own_columns if attribute.actor is own_actor else self.actor(attribute.actor)),
                attribute.action,
                attribute.description or "",
                content_type,
                content_id,
                attribute.name,
                old,
                new,
                now,
            )
            for attribute, old, new in encoded
        ]


def encode_entries(entries: list[ObjectEntry]) -> list[list[tuple[AttributeEntry, str | None, str | None]]]:
    """Each entry's attributes with their old and new values as JSON; ``revy.EncodingError`` if one cannot be."""
    encode = value_encoder()
    plain = PLAIN_JSON if type(_encoder()) is RevyJSONEncoder else {}

    # The common values inline, as value_encoder() writes them: its call per value was a tenth
    # of a bulk_create()'s Python per row.
    def encoded(entry: ObjectEntry, attribute: AttributeEntry, value: Any) -> str | None:
        if value is None:
            return None
        to_json = plain.get(type(value))
        return encode(entry, attribute, value) if to_json is None else to_json(value)

    result = []
    for entry in entries:
        attributes = [
            (
                attribute,
                None if attribute.old_value is None else encoded(entry, attribute, attribute.old_value),
                encoded(entry, attribute, attribute.new_value),
            )
            for attribute in entry.attributes
        ]
        entry.state_json = state_json(entry, attributes, encoded)
        result.append(attributes)
    return result


def state_json(
    entry: ObjectEntry,
    attributes: list[tuple[AttributeEntry, str | None, str | None]],
    encoded: Callable[[ObjectEntry, AttributeEntry, Any], str | None],
) -> str | None:
    """An update's ``entry.state`` as JSON text by field name (``snapshot.stored_values()`` reads it), if any.

    The changed values are encoded already. A create or a delete stores none:
    its attribute deltas hold every field, and snapshots read them in one seek.
    """
    if entry.state is None:
        return None
    changed = {attribute.name: new for attribute, _, new in attributes}
    values = {
        name: changed[name]
        if name in changed
        else encoded(entry, AttributeEntry(name, SET, None, "", None, value), value)
        for name, value in entry.state.items()
    }
    # Names are fields' Python identifiers: nothing in them to escape.
    return "{" + ",".join(f'"{name}":{"null" if value is None else value}' for name, value in values.items()) + "}"


def write_with_change(
    using: str, entry: ObjectEntry, change: Change, execute: Callable[[str, list[Any]], Any], cursor: Any
) -> tuple[Any, bool]:
    """Run Django's ``change`` through ``execute`` with ``entry``'s deltas in the same statement.

    ``execute(sql, params)`` runs the statement on ``cursor``, where Django
    reads its rows (or row count) next. Returns what ``execute`` returned and
    whether the change wrote a row, and with it the deltas; nothing is written
    if an entry's value cannot be encoded.
    """
    encoded = encode_entries([entry])[0]
    rows = Rows(using, [entry], existing_revision_id(using))
    result = execute(*one_statement(using, entry, encoded, rows, change))
    if change.head:
        while cursor.nextset():  # the rows of the last statement, as Django reads the rows of its own
            pass
    wrote = cursor.rowcount > 0
    if wrote and rows.rev is None:
        adopt_revision(using, cursor.fetchone()[-1])
        cursor.scroll(0, mode="absolute")  # Django reads the change's returned row next
    return result, wrote


def write(using: str, entries: list[ObjectEntry]) -> None:
    """Write ``entries`` and their attributes in the current scope's revision."""
    if not entries:
        return
    # Everything is encoded before the first row is written.
    encoded = encode_entries(entries)
    writers = writers_for(using)
    rows = Rows(using, entries, existing_revision_id(using))
    if len(entries) == 1 and encoded[0] and writers.in_one_statement:
        # One save or delete, the hot path: a single round trip writes it all.
        with connections[using].cursor() as cursor:
            cursor.execute(*one_statement(using, entries[0], encoded[0], rows))
            if rows.rev is None:
                adopt_revision(using, cursor.fetchone()[-1])
        return
    if rows.rev is None:
        rows.rev = writers.revision.insert_returning_ids([rows.revision_row()])[0]
        adopt_revision(using, rows.rev)
    ids = writers.object_delta.insert_returning_ids([rows.object_row(entry) for entry in entries])
    attribute_rows = [
        row
        for entry, delta_id, attributes in zip(entries, ids, encoded, strict=True)
        for row in rows.attribute_rows(entry, delta_id, attributes)
    ]
    if attribute_rows:
        writers.attribute_delta.insert(attribute_rows)
