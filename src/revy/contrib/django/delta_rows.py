"""Expressions written out in SQL that read the columns of each object delta of their query.

Built from querysets (``Subquery``, ``Exists``, ``Cast``), revy's snapshot
and ``deleted()`` conditions cost Django more to build and compile than the
database takes to run the read; written out, they only need to know the
alias their query gives the object delta table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models.expressions import Col, Expression


class DeltaRowExpression(Expression):
    """An expression on each row of the object delta query it is resolved in, by that table's alias."""

    # Compared by (class, model, alias): Django's own identity binds the constructor's signature
    # at every comparison, a tenth of a query's build.
    model: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alias: str | None = None

    @property
    def identity(self) -> tuple[Any, ...]:
        return (type(self), self.model, self.alias)

    def resolve_expression(self, query: Any = None, *args: Any, **kwargs: Any) -> Any:
        clone = self.copy()
        clone.alias = query.get_initial_alias()
        return clone

    def relabeled_clone(self, change_map: Mapping[str, str]) -> Any:
        clone = self.copy()
        clone.alias = change_map.get(self.alias, self.alias)  # type: ignore[arg-type]
        return clone

    def column(self, compiler: Any, name: str) -> Col:
        """The column of field ``name`` (``"pk"`` for the key) of this row."""
        assert self.alias is not None, "compiled once resolved in its query"
        meta = compiler.query.get_meta()
        return Col(self.alias, meta.pk if name == "pk" else meta.get_field(name))

    def columns_sql(self, compiler: Any, *names: str) -> dict[str, str]:
        """The SQL of those columns, quoted as Django quotes its table's alias (it changed in 6.1)."""
        return {name: compiler.compile(self.column(compiler, name))[0] for name in names}
