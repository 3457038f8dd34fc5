"""Where the time of a tracked write goes: ``python -m benchmarks.profile_save [create|update|delete]``.

Runs the operation N times (REVY_PROFILE_N, default 2000) for the revy twin
and for the plain one under cProfile, on the database of
``benchmarks.settings`` (REVY_BENCH_DB), and prints per operation: time in
the driver's execute calls (SQL round trips), in commits, and everything else
(Python), then the functions that cost the most.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from benchmarks import suite
from benchmarks.benchapp import models as bench
from revy import Context


def workload(op: str, model: type[Any], n: int) -> list[Any]:
    lib = suite.Library("x", model, bench.PlainParent, bench.PlainChild)
    if op == "create":
        return [suite.new_item(model, i).save for i in range(n)]
    objs = suite.fresh_items(lib, n)
    if op == "delete":
        return [obj.delete for obj in objs]

    def update(obj: Any) -> None:
        obj.count += 1
        obj.save()

    return [lambda obj=obj: update(obj) for obj in objs]


def split(stats: pstats.Stats) -> tuple[float, float]:
    """Seconds inside the driver's execute calls, and inside its commits."""
    execute = commit = 0.0
    for (filename, _, name), (_, _, _, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        psycopg = "psycopg" in filename
        if (name == "execute" and "sqlite3" in filename) or (psycopg and name == "execute"):
            execute += cumtime
        elif name == "<method 'commit' of 'sqlite3.Connection' objects>" or (psycopg and name == "commit"):
            commit += cumtime
    return execute, commit


def profile(op: str, model: type[Any], n: int, scope: Any) -> tuple[float, pstats.Stats]:
    steps = workload(op, model, n)
    profiler = cProfile.Profile()
    with scope():
        start = time.perf_counter()
        profiler.enable()
        for step in steps:
            step()
        profiler.disable()
        elapsed = time.perf_counter() - start
    return elapsed, pstats.Stats(profiler)


def main() -> None:
    op = sys.argv[1] if len(sys.argv) > 1 else "create"
    n = int(os.environ.get("REVY_PROFILE_N", "2000"))
    with suite.test_database():
        for label, model, scope in (
            ("plain", bench.PlainItem, suite.nothing),
            ("revy", bench.RevyItem, Context),
        ):
            profile(op, model, min(n, 100), scope)  # warm-up
            elapsed, stats = profile(op, model, n, scope)
            execute, commit = split(stats)
            per = 1e6 / n
            print(
                f"\n== {label} {op} on {suite.connection.vendor}: {elapsed * per:.0f} µs per operation "
                f"(profiled): SQL execute {execute * per:.0f} µs, commit {commit * per:.0f} µs, "
                f"the rest (Python) {(elapsed - execute - commit) * per:.0f} µs"
            )
            if label == "revy":
                stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
