"""What the database and Django alone charge for tracking: ``python -m benchmarks.floor``.

On the database of ``benchmarks.settings`` (REVY_BENCH_DB), records the SQL
that Django sends for a create and for an update of one field, untracked
and tracked (revy, steady state), then replays each N times (REVY_FLOOR_N,
default 300) straight through the driver, with no Django and no Python of
revy's in the way. The ratio of the tracked and untracked medians is the
least any library can reach while writing the rows the contract asks for
(an object delta and one attribute delta per field, indexed for history) in
the same transaction as the change. It is measured again with every
secondary index of revy's tables dropped: the least for those rows alone,
found by nothing.

For the cascade, it times plain Django deleting a parent with 100 children
with and without a receiver that does nothing on the children's
``pre_delete`` and ``post_delete``. Once anything listens, Django loads every
child and sends it both signals instead of deleting them in one statement:
what any signal-driven tracker pays before it records a single row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()  # does nothing more when benchmarks.suite has set Django up

from django.db import connection  # noqa: E402
from django.db.models.signals import post_delete, pre_delete  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from benchmarks.benchapp import models as bench  # noqa: E402
from revy import Context  # noqa: E402
from revy.contrib.django.models import get_attribute_delta_model, get_object_delta_model  # noqa: E402

Statement = tuple[str, Any]


def sent_by(save: Any) -> list[Statement]:
    """The statements of ``save()`` as the driver gets them, transaction control left out."""
    if connection.vendor == "postgresql":
        # Django's client-side binding sends SQL text with the values in it, which Django logs as sent.
        with CaptureQueriesContext(connection) as captured:
            save()
        sent = [(query["sql"], None) for query in captured.captured_queries]
    else:
        sent = []

        def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            sent.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(spy):  # revy folds nothing on SQLite: this sees every statement
            save()
    return [(sql, params) for sql, params in sent if not sql.upper().startswith(("BEGIN", "COMMIT"))]


@dataclass
class Captured:
    """The statements of one operation, untracked and tracked, each in one or more variants."""

    plain: list[list[Statement]]
    tracked: list[list[Statement]]

    @property
    def in_transaction(self) -> bool:
        # SQLite: revy writes in a transaction; PostgreSQL: one statement, its own commit.
        return len(self.tracked[0]) > 1


def run(statements: list[Statement], in_transaction: bool, prepared: bool) -> float:
    """Seconds of running ``statements`` once through the driver (in one transaction, or each on its own).

    ``prepared`` (PostgreSQL): each statement, plain Django's too, is parsed
    and planned once, on a server-binding cursor, and only executed
    afterwards; its values stay in the text, as captured. Django turns
    prepared statements off by default (they break connection poolers), so
    this is the server's share alone, a best case no Django project gets
    unless it opts in. SQLite's driver caches compiled statements by itself.
    """
    raw = connection.connection
    start = time.perf_counter()
    if connection.vendor == "sqlite":
        if in_transaction:
            raw.execute("BEGIN")
        for sql, params in statements:
            raw.execute(sql.replace("%s", "?"), params or ()).fetchall()
        if in_transaction:
            raw.execute("COMMIT")
    else:
        import psycopg  # only on PostgreSQL

        with psycopg.Cursor(raw) if prepared else raw.cursor() as cursor:
            if in_transaction:
                cursor.execute("BEGIN")
            for sql, params in statements:
                cursor.execute(sql, params, prepare=prepared or None)
            if in_transaction:
                cursor.execute("COMMIT")
    return time.perf_counter() - start


def replay(captured: Captured, n: int, prepared: bool = False) -> dict[str, float]:
    """Median seconds of the untracked and of the tracked statements, replayed ``n`` times each, taking turns.

    Each side cycles through its variants: an update replays two that set
    different values, as SQLite writes nothing for an UPDATE that leaves a
    row as it is.
    """
    times: dict[str, list[float]] = {"plain": [], "tracked": []}
    for i in range(n):
        pair = [
            ("plain", captured.plain[i % len(captured.plain)], False),
            ("tracked", captured.tracked[i % len(captured.tracked)], captured.in_transaction),
        ]
        for side, statements, in_transaction in pair[:: 1 if i % 2 else -1]:  # each goes first every other time
            times[side].append(run(statements, in_transaction, prepared))
    return {side: median(seconds) for side, seconds in times.items()}


def capture(new_item: Callable[[type[Any], int], Any]) -> dict[str, Captured]:
    """The SQL of a create and of an update of one field, untracked and tracked (revy, steady state)."""

    def updates(model: type[Any]) -> list[list[Statement]]:
        obj = new_item(model, 2)
        obj.save()
        variants = []
        for _ in range(2):
            obj.count += 1
            variants.append(sent_by(obj.save))
        return variants

    # The statements themselves, as Django sends them; prepared once, they are measured below.
    with Context():
        new_item(bench.RevyItem, 0).save()  # the revision, content types
        tracked = {"create": [sent_by(new_item(bench.RevyItem, 1).save)], "update one field": updates(bench.RevyItem)}
    plain = {"create": [sent_by(new_item(bench.PlainItem, 1).save)], "update one field": updates(bench.PlainItem)}
    return {op: Captured(plain[op], tracked[op]) for op in tracked}


def measure(n: int, new_item: Callable[[type[Any], int], Any]) -> dict[str, Any]:
    """Median seconds of the untracked and of the tracked SQL of a create and an update, replayed ``n`` times.

    ``new_item(model, i)`` makes the unsaved row to create (``suite.new_item``).
    It drops the secondary indexes of revy's tables at the end: call it last,
    on a throwaway database.
    """
    connection.ensure_connection()
    captured = capture(new_item)
    raw = connection.connection

    def replays() -> dict[str, Any]:
        times: dict[str, Any] = {}
        for op, sql in captured.items():
            times[op] = replay(sql, n)
            if connection.vendor == "postgresql":
                threshold, raw.prepare_threshold = raw.prepare_threshold, 0  # Django's None forbids preparing
                try:
                    times[op]["prepared"] = replay(sql, n, prepared=True)
                finally:
                    raw.prepare_threshold = threshold  # psycopg's statements stay with it, unused
        return times

    if connection.vendor == "sqlite":
        level, raw.isolation_level = raw.isolation_level, None  # the driver sends what it is given, nothing more
    try:
        create = captured["create"]
        floor = {"n": n, "statements": len(create.tracked[0]), "in_transaction": create.in_transaction}
        floor["indexed"] = replays()
        floor["indexes"] = drop_delta_indexes()
        floor["unindexed"] = replays()
        return floor
    finally:
        if connection.vendor == "sqlite":
            raw.isolation_level = level


def drop_delta_indexes() -> int:
    """Drop every index of revy's delta tables but their primary keys; return how many there were."""
    dropped = 0
    with connection.cursor() as cursor:
        for model in (get_object_delta_model(), get_attribute_delta_model()):
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            for name, constraint in constraints.items():
                if constraint["index"] and not constraint["primary_key"] and not constraint["unique"]:
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
                    dropped += 1
    return dropped


def listening_cascade(n: int) -> dict[str, Any]:
    """Median seconds of plain Django's cascade of a parent with 100 children, without and with a listener.

    The listener does nothing; the parents take turns, one deleted with it and
    the next without, so that drift of the machine hits both alike.
    """
    from benchmarks import suite

    def listener(**kwargs: Any) -> None:
        pass

    lib = suite.Library("plain", bench.PlainItem, bench.PlainParent, bench.PlainChild)
    times: dict[str, list[float]] = {"plain": [], "listening": []}
    for i, parent in enumerate(suite.fresh_parents(lib, 2 * n)):
        listening = i % 2 == 1
        if listening:
            pre_delete.connect(listener, sender=bench.PlainChild)
            post_delete.connect(listener, sender=bench.PlainChild)
        try:
            start = time.perf_counter()
            parent.delete()
            times["listening" if listening else "plain"].append(time.perf_counter() - start)
        finally:
            pre_delete.disconnect(listener, sender=bench.PlainChild)
            post_delete.disconnect(listener, sender=bench.PlainChild)
    return {
        "plain": median(times["plain"]),
        "listening": median(times["listening"]),
        "n": n,
        "children": suite.CHILDREN,
    }


def main() -> None:
    from benchmarks import suite
    from benchmarks.report import floor_table

    n = int(os.environ.get("REVY_FLOOR_N", "300"))
    with suite.test_database():
        cascade = listening_cascade(max(n // 10, 5))
        floor = measure(n, suite.new_item)
    print(f"{connection.vendor}, driver only, tracked \u00f7 untracked (medians of {n}):")
    print("\n".join(floor_table(floor)))
    plain, listening = cascade["plain"], cascade["listening"]
    print(
        f"plain cascade of {cascade['children']} children: {plain * 1e6:.0f} µs; with a listener that does nothing "
        f"{listening * 1e6:.0f} µs: {listening / plain:.2f}\u00d7 (medians of {cascade['n']})"
    )


if __name__ == "__main__":
    main()
