"""What the database alone charges for a tracked create: ``python -m benchmarks.floor``.

On the database of ``benchmarks.settings`` (REVY_BENCH_DB), records the SQL
that Django sends for one untracked create and for one tracked create (revy,
steady state), then replays both N times (REVY_FLOOR_N, default 300) straight
through the driver, with no Django and no Python of revy's in the way. The
ratio of the two medians is the least any library can reach while writing
the rows the contract asks for (an object delta and one attribute delta per
field, indexed for history) in the same transaction as the change.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from statistics import median
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()  # does nothing more when benchmarks.suite has set Django up

from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from benchmarks.benchapp import models as bench  # noqa: E402
from revy import Context  # noqa: E402

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


def replay(statements: list[Statement], in_transaction: bool, n: int, prepared: bool = False) -> float:
    """Median seconds of running ``statements`` (in one transaction, or each on its own).

    ``prepared`` (PostgreSQL): each statement is parsed and planned once, on a
    server-binding cursor, and only executed afterwards. Django turns
    prepared statements off by default (they break connection poolers), so
    this is a best case no Django project gets unless it opts in. SQLite's
    driver caches compiled statements by itself.
    """
    raw = connection.connection
    times = []
    for _ in range(n):
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
        times.append(time.perf_counter() - start)
    return median(times)


def measure(n: int, new_item: Callable[[type[Any], int], Any]) -> dict[str, Any]:
    """Median seconds of the untracked create's SQL and of the tracked create's, replayed ``n`` times.

    ``new_item(model, i)`` makes the unsaved row to create (``suite.new_item``).
    """
    connection.ensure_connection()
    # The statement itself, as Django sends it; prepared once, it is measured below.
    with Context(), override_settings(REVY_PREPARED_STATEMENTS=False):
        new_item(bench.RevyItem, 0).save()  # the revision, content types
        tracked = sent_by(new_item(bench.RevyItem, 1).save)
    plain = sent_by(new_item(bench.PlainItem, 1).save)
    # SQLite: revy writes in a transaction; PostgreSQL: one statement, its own commit.
    in_transaction = len(tracked) > 1
    raw = connection.connection
    if connection.vendor == "sqlite":
        level, raw.isolation_level = raw.isolation_level, None  # the driver sends what it is given, nothing more
    try:
        floor = {
            "plain": replay(plain, False, n),
            "tracked": replay(tracked, in_transaction, n),
            "statements": len(tracked),
            "in_transaction": in_transaction,
            "n": n,
        }
        if connection.vendor == "postgresql":
            threshold, raw.prepare_threshold = raw.prepare_threshold, 0  # Django's None forbids preparing
            try:
                floor["prepared"] = {
                    "plain": replay(plain, False, n, prepared=True),
                    "tracked": replay(tracked, in_transaction, n, prepared=True),
                }
            finally:
                raw.prepare_threshold = threshold  # psycopg's statements stay with it, unused
        return floor
    finally:
        if connection.vendor == "sqlite":
            raw.isolation_level = level


def main() -> None:
    from benchmarks import suite

    with suite.test_database():
        floor = measure(int(os.environ.get("REVY_FLOOR_N", "300")), suite.new_item)
    plain, tracked = floor["plain"], floor["tracked"]
    print(f"{connection.vendor}: untracked create {plain * 1e6:.0f} µs (1 statement)")
    transaction = " in one transaction" if floor["in_transaction"] else ""
    statements = f"{floor['statements']} statement(s){transaction}"
    print(f"{connection.vendor}: with revy's deltas {tracked * 1e6:.0f} µs ({statements})")
    print(f"floor: {tracked / plain:.2f}\u00d7 (median of {floor['n']}, driver only)")
    if "prepared" in floor:
        best = floor["prepared"]
        plain, tracked = best["plain"], best["tracked"]
        print(f"prepared once: {plain * 1e6:.0f} µs and {tracked * 1e6:.0f} µs: {tracked / plain:.2f}\u00d7")


if __name__ == "__main__":
    main()
