"""Cost of revy's context operations at stack depth 1 and 1000 (contract §2: O(1)).

Run from the repository root: ``python benchmarks/context_depth.py``.
Prints ns per operation and the depth-1000 / depth-1 ratio.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from revy import Context

NUMBER = 100_000
REPEAT = 15
DEPTHS = (1, 1000)


def enter_and_leave() -> None:
    with Context.via_actor("someone"):
        pass


def read_actor() -> None:
    Context.get_actor()


def seconds_at_depth(operation: Callable[[], None], depth: int) -> float:
    """Time of NUMBER runs of ``operation`` under ``depth`` open scopes."""
    with ExitStack() as stack:
        # The actor is set in the outermost scope only, so a read at depth
        # 1000 finds its value 1000 scopes away.
        stack.enter_context(Context.via(actor="outermost", revision_description="bench"))
        for _ in range(depth - 1):
            stack.enter_context(Context())
        return timeit.timeit(operation, number=NUMBER)


def ns_per_op(operation: Callable[[], None]) -> dict[int, float]:
    """Best time per operation at each depth, in ns; depths alternate to share the noise."""
    best = dict.fromkeys(DEPTHS, float("inf"))
    for _ in range(REPEAT):
        for depth in DEPTHS:
            best[depth] = min(best[depth], seconds_at_depth(operation, depth))
    return {depth: seconds / NUMBER * 1e9 for depth, seconds in best.items()}


def main() -> None:
    print(f"Python {sys.version.split()[0]}, best of {REPEAT} x {NUMBER:,} operations")
    print(f"{'operation':<34}{'depth 1':>10}{'depth 1000':>12}{'ratio':>8}")
    for name, operation in [
        ("enter+leave Context.via_actor(x)", enter_and_leave),
        ("Context.get_actor()", read_actor),
    ]:
        ns = ns_per_op(operation)
        shallow, deep = ns[1], ns[1000]
        print(f"{name:<34}{shallow:>8.0f}ns{deep:>10.0f}ns{deep / shallow:>8.2f}")


if __name__ == "__main__":
    main()
