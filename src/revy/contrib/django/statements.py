"""Reads revy runs again and again: Django builds and compiles each once per database.

Building and compiling a queryset costs Django several times what the
database takes to run a read of one object's history (``python -m
benchmarks.profile_reads``: on SQLite, 0.5 ms of the 0.6 ms of ``as_of()``).
The reads of ``obj.history`` that take no filter of the caller's are built
once, with a ``Slot`` where each value of the call goes; later calls run
Django's SQL of that build with their own values, through Django's cursor
(execute wrappers, query logging and all), and convert the columns they
read with the converters Django chose for them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.signals import setting_changed
from django.db import connections, models
from django.db.models.expressions import Expression


class Slot(Expression):
    """A value given when the statement runs: one placeholder, filled through ``output_field``."""

    def __init__(self, name: str, output_field: models.Field):
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return "%s", [self]


@dataclass(frozen=True)
class Statement:
    """The SQL of one queryset (None when it can match no row) and the converters of its columns."""

    sql: str | None
    params: tuple[Any, ...]
    converters: dict[int, tuple[list[Any], Any]]

    @classmethod
    def of(cls, queryset: models.QuerySet) -> Statement:
        compiler = queryset.query.get_compiler(using=queryset.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return cls(None, (), {})
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        return cls(sql, tuple(params), compiler.get_converters(columns))

    def rows(self, using: str, **values: Any) -> list[tuple[Any, ...]]:
        """The rows as the driver gives them, each ``Slot`` taking its value from ``values``."""
        if self.sql is None:
            return []
        connection = connections[using]
        params = [
            param.output_field.get_db_prep_value(values[param.name], connection) if isinstance(param, Slot) else param
            for param in self.params
        ]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchall()

    def converter(self, index: int, using: str) -> Callable[[Any], Any]:
        """The conversion of column ``index`` to Python, as ``values_list()`` applies it."""
        found = self.converters.get(index)
        if found is None:
            return _unchanged
        converters, expression = found
        connection = connections[using]

        def convert(value: Any) -> Any:
            for converter in converters:
                value = converter(value, expression, connection)
            return value

        return convert


def _unchanged(value: Any) -> Any:
    return value


def deltas_of_one_object(delta_model: type[models.Model], using: str) -> models.QuerySet:
    """The object deltas of one object, its keys the slots of ``object_keys()``."""
    return delta_model._base_manager.db_manager(using).filter(
        content_type_id=Slot("type_id", models.IntegerField()), content_id=Slot("content_id", models.TextField())
    )


def object_keys(type_id: int, content_id: str) -> dict[str, Any]:
    """The values of the slots of ``deltas_of_one_object()`` for one object."""
    return {"type_id": type_id, "content_id": content_id}


_compiled: dict[Hashable, Statement] = {}


def compiled(key: Hashable, build: Callable[[], models.QuerySet]) -> Statement:
    """The statement of ``build()``'s queryset, built and compiled the first time ``key`` is asked for.

    ``key`` names everything the SQL depends on: the read, the models, the
    tracked fields and the database alias.
    """
    statement = _compiled.get(key)
    if statement is None:
        statement = _compiled[key] = Statement.of(build())
    return statement


def _forget(**kwargs: Any) -> None:
    # Settings decide the SQL and the converters (the delta models, the databases, USE_TZ):
    # override_settings() in tests, or anything else that changes settings at run time.
    _compiled.clear()


setting_changed.connect(_forget, dispatch_uid="revy.statements")
