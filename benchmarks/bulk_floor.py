"""What the database alone charges for the rows of a recorded ``bulk_create()``: ``python -m benchmarks.bulk_floor``.

On the database of ``benchmarks.settings`` (REVY_BENCH_DB), records the SQL
of plain Django's ``bulk_create()`` of N rows (REVY_BULK_FLOOR_N, default
10,000) and of revy's recorded one (the rows, their object deltas, their
attribute deltas), then replays each through the driver alone, no Django and
no Python of revy's, each in one transaction with its commit, the sides
taking turns (REVY_BULK_FLOOR_ROUNDS, default 5). On PostgreSQL the delta
rows are also sent by ``COPY``, the fastest way psycopg has to load rows.

Each line gives microseconds per created row and the ratio to plain
Django's whole ``bulk_create()`` measured in the same process: the least
that any library writing these rows in the same transaction can cost.
"""

from __future__ import annotations

import os
import time
from statistics import median
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()  # does nothing more when benchmarks.suite has set Django up

from django.db import connection, transaction  # noqa: E402

from benchmarks.benchapp import models as bench  # noqa: E402
from revy import Context  # noqa: E402

Statement = tuple[str, Any]


def statements_of(create: Any) -> list[Statement]:
    """The statements ``create()`` sends, transaction control left out."""
    sent: list[Statement] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy), transaction.atomic():
        create()
    return [(sql, params) for sql, params in sent if not sql.upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT"))]


def rows_of(statement: Statement) -> tuple[str, str, list[tuple[Any, ...]]]:
    """The table, the column list and the rows of one of revy's ``INSERT ... SELECT`` statements (PostgreSQL)."""
    sql, params = statement
    into, select = sql.split(" SELECT ", 1)
    select = "SELECT " + select.split(" RETURNING ")[0]
    with connection.cursor() as cursor:
        cursor.execute(select, params)
        rows = cursor.fetchall()
    table = into.split()[2]
    columns = into[into.index("(") + 1 : into.rindex(")")]
    return table, columns, rows


def replay(statements: list[Statement], copies: list[tuple[str, str, list[tuple[Any, ...]]]]) -> float:
    """Seconds of sending ``statements`` (then ``copies`` by COPY) through the driver in one transaction."""
    raw = connection.connection
    start = time.perf_counter()
    if connection.vendor == "sqlite":
        raw.execute("BEGIN")
        for sql, params in statements:
            raw.execute(sql.replace("%s", "?"), params or ()).fetchall()
        raw.execute("COMMIT")
        return time.perf_counter() - start
    with raw.cursor() as cursor:
        cursor.execute("BEGIN")
        for sql, params in statements:
            cursor.execute(sql, params)
        for table, columns, rows in copies:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cursor.execute("COMMIT")
    return time.perf_counter() - start


def measure(n: int, rounds: int) -> dict[str, float]:
    """Median seconds per created row of each way of writing them, and of plain Django's whole call."""
    from benchmarks import suite

    plain = statements_of(
        lambda: bench.PlainItem.objects.bulk_create([suite.new_item(bench.PlainItem, i) for i in range(n)])
    )
    with Context():
        suite.new_item(bench.RevyItem, -1).save()  # the revision exists: steady state
        tracked = statements_of(
            lambda: bench.RevyItem.objects.bulk_create([suite.new_item(bench.RevyItem, i) for i in range(n)])
        )
    ways: dict[str, tuple[list[Statement], list[Any]]] = {
        "plain Django's SQL": (plain, []),
        "revy's SQL, as Django sends it": (tracked, []),
    }
    if connection.vendor == "postgresql":
        deltas = [s for s in tracked if "revy_" in s[0].split(" SELECT ")[0]]
        own = [s for s in tracked if s not in deltas]
        ways["revy's rows, the deltas by COPY"] = (own, [rows_of(s) for s in deltas])
    times: dict[str, list[float]] = {way: [] for way in ways}
    whole: list[float] = []
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "sqlite":
        level, raw.isolation_level = raw.isolation_level, None  # the driver sends what it is given, nothing more
    try:
        for i in range(rounds):
            order = list(ways.items())
            for way, (statements, copies) in order[:: 1 if i % 2 else -1]:
                times[way].append(replay(statements, copies))
    finally:
        if connection.vendor == "sqlite":
            raw.isolation_level = level
    for _ in range(rounds):  # in autocommit, as the benchmark's row: Django's own transaction and commit
        objs = [suite.new_item(bench.PlainItem, i) for i in range(n)]
        start = time.perf_counter()
        bench.PlainItem.objects.bulk_create(objs)
        whole.append(time.perf_counter() - start)
    result = {way: median(seconds) / n for way, seconds in times.items()}
    result["plain Django's whole bulk_create()"] = median(whole) / n
    return result


def main() -> None:
    from benchmarks import suite

    n = int(os.environ.get("REVY_BULK_FLOOR_N", "10000"))
    rounds = int(os.environ.get("REVY_BULK_FLOOR_ROUNDS", "5"))
    with suite.test_database():
        result = measure(n, rounds)
    plain = result["plain Django's whole bulk_create()"]
    print(f"{connection.vendor}, bulk_create() of {n:,} rows, per row (medians of {rounds}):")
    for way, seconds in result.items():
        print(f"  {way}: {seconds * 1e6:.1f} µs")
    tracked = [way for way in result if way.startswith("revy")]
    for way in tracked:
        floor = plain + result[way] - result["plain Django's SQL"]
        print(f"  floor with {way}: {floor * 1e6:.1f} µs = {floor / plain:.2f}\u00d7 plain Django's whole call")


if __name__ == "__main__":
    main()
