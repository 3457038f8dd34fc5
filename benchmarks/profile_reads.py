"""Where the time of each history read goes: ``python -m benchmarks.profile_reads [words of a read]``.

On the database of ``benchmarks.settings`` (REVY_BENCH_DB), builds the
bench's object with 100 changes for every library, then prints for each read
of the bench (or those whose name holds the words given) each library's
median time over REVY_PROFILE_N calls (default 200), the share of it spent
in SQL statements as Django executes them, and their number. The rest is
Python: building and compiling the queryset, converting rows, making objects.

The delta tables hold REVY_PROFILE_OTHERS (default 20,000) attribute deltas
of other objects besides, as the bench's reads find the rows its writes left:
on near-empty tables PostgreSQL plans sequential scans.

With REVY_PROFILE_READ set to words of a read, then prints revy's functions
that cost the most in that read, under cProfile.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from statistics import median
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from django.db import connection

from benchmarks import suite


def timed(read: Callable[[], Any], n: int) -> tuple[float, float, int]:
    """Median seconds of ``read``, median seconds of its SQL, and its statements per call."""
    spent = [0.0, 0]

    def timing(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[0] += time.perf_counter() - start
            spent[1] += 1

    for _ in range(n // 10):  # warm-up: content types, compiled statements
        read()
    totals, sql = [], []
    with connection.execute_wrapper(timing):
        for _ in range(n):
            spent[0] = 0.0
            start = time.perf_counter()
            read()
            totals.append(time.perf_counter() - start)
            sql.append(spent[0])
    return median(totals), median(sql), int(spent[1]) // n


def main() -> None:
    wanted = " ".join(sys.argv[1:])
    n = int(os.environ.get("REVY_PROFILE_N", "200"))
    with suite.test_database():
        libraries = [lib for lib in suite.libraries() if lib.reads]
        subjects = {lib.key: suite.changed_object(lib) for lib in libraries}
        others = int(os.environ.get("REVY_PROFILE_OTHERS", "20000"))
        if others:  # the bench reads beside what its writes left, not on near-empty tables
            suite.add_other_objects_deltas(others)
        suite.analyze()
        for op in suite.READS:
            if wanted not in op:
                continue
            cells = []
            for lib in libraries:
                read = lib.reads.get(op)
                if read is not None:
                    total, sql, statements = timed(lambda read=read, lib=lib: read.read(subjects[lib.key]), n)
                    cells.append(f"{lib.key} {total * 1e3:.2f} ms (SQL {sql * 1e3:.2f} ms, {statements})")
            print(f"{op}: " + "; ".join(cells))
        profiled = os.environ.get("REVY_PROFILE_READ")
        if profiled:
            op = next(op for op in suite.READS if profiled in op)
            revy = next(lib for lib in libraries if lib.key == "revy")
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(n):
                revy.reads[op].read(subjects["revy"])
            profiler.disable()
            print(f"\ncProfile of {n} revy reads of {op!r}, by own time:")
            pstats.Stats(profiler).sort_stats(os.environ.get("REVY_PROFILE_SORT", "tottime")).print_stats(40)


if __name__ == "__main__":
    main()
