"""Where the time of one tracked write goes: ``python -m benchmarks.profile_save [create|update|delete|cascade]``.

On the database of ``benchmarks.settings`` (REVY_BENCH_DB), runs the
operation N times (REVY_PROFILE_N, default 300) for the plain model and for
its revy twin inside one Context, taking turns, and prints the median time
per operation split into SQL statements (as Django executes them), the
COMMIT, and the rest (Python: Django, the field tracker, revy). Then the
functions of revy's run that cost the most, under cProfile.

Plain Django's autocommit write has no COMMIT of its own: the database
commits inside the statement (SQLite while Django reads the RETURNING row,
so there the commit shows as Python time).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from statistics import median
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from django.db import connection

from benchmarks import suite
from benchmarks.benchapp import models as bench
from revy import Context


def steps(op: str, model: type[Any], n: int) -> list[Callable[[], Any]]:
    if op == "cascade":
        parent = bench.RevyParent if model is bench.RevyItem else bench.PlainParent
        child = bench.RevyChild if model is bench.RevyItem else bench.PlainChild
        return [p.delete for p in suite.fresh_parents(suite.Library("profiled", model, parent, child), n)]
    if op == "create":
        return [suite.new_item(model, i).save for i in range(n)]
    objs = suite.fresh_items(suite.Library("profiled", model, bench.PlainParent, bench.PlainChild), n)
    if op == "delete":
        return [obj.delete for obj in objs]

    def update(obj: Any) -> None:
        obj.count += 1
        obj.save()

    return [lambda obj=obj: update(obj) for obj in objs]


@contextmanager
def timing_sql(spent: dict[str, float]) -> Iterator[None]:
    """Add the seconds of every statement (by its first words) and of every COMMIT to ``spent``."""

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split()[:3])[:40]
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - start

    commit = connection._commit

    def timed_commit() -> None:
        start = time.perf_counter()
        try:
            commit()
        finally:
            spent["COMMIT"] = spent.get("COMMIT", 0.0) + time.perf_counter() - start

    connection._commit = timed_commit  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(timed):
            yield
    finally:
        del connection._commit


def breakdown(op: str, n: int) -> None:
    plain, tracked = steps(op, bench.PlainItem, n), steps(op, bench.RevyItem, n)
    totals: dict[str, list[float]] = {"plain": [], "revy": []}
    parts: dict[str, list[dict[str, float]]] = {"plain": [], "revy": []}
    with Context():
        for pair in zip(plain, tracked, strict=True):
            for key, step in zip(("plain", "revy"), pair, strict=True):
                spent: dict[str, float] = {}
                with timing_sql(spent):
                    start = time.perf_counter()
                    step()
                    totals[key].append(time.perf_counter() - start)
                parts[key].append(spent)
    for key in ("plain", "revy"):
        total = median(totals[key])
        print(f"{key} {op} on {connection.vendor}: {total * 1e6:.0f} µs per operation (median of {n})")
        names = sorted({name for spent in parts[key] for name in spent})
        accounted = 0.0
        for name in names:
            part = median(spent.get(name, 0.0) for spent in parts[key])
            accounted += part
            print(f"    {name:<42} {part * 1e6:7.0f} µs")
        print(f"    {'the rest (Python)':<42} {(total - accounted) * 1e6:7.0f} µs")


def profile(op: str, n: int) -> None:
    actions = steps(op, bench.RevyItem, n)
    profiler = cProfile.Profile()
    with Context():
        profiler.enable()
        for action in actions:
            action()
        profiler.disable()
    print(f"\ncProfile of {n} revy {op}s, by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> None:
    op = sys.argv[1] if len(sys.argv) > 1 else "create"
    n = int(os.environ.get("REVY_PROFILE_N", "300"))
    with suite.test_database():
        steps(op, bench.RevyItem, 50)  # warm-up: content types, compiled statements
        breakdown(op, n)
        profile(op, n)


if __name__ == "__main__":
    main()
