"""The operations, run for every library on one database in one process.

``python -m benchmarks.suite SIZES_JSON OUTPUT_JSON [bulk]`` with
``DJANGO_SETTINGS_MODULE=benchmarks.settings``; ``benchmarks.run`` calls it
(``bulk``: only the bulk rows, without the floors).

Every single-row operation runs in autocommit, as a view does without
``ATOMIC_REQUESTS``, so each pays its own commit. revy's operations run
inside a ``Context`` opened once around the batch (its steady state: the
revision exists); the row "revy, Context per op" opens one per operation, so
each also creates its revision. django-reversion's run inside
``reversion.create_revision()``, one per operation, as its middleware does.
"""

from __future__ import annotations

import contextvars
import gc
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from statistics import median
from typing import Any

import django

django.setup()

import reversion  # noqa: E402
from auditlog.models import LogEntry  # noqa: E402
from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.db.models import F, Prefetch  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from reversion.models import Version  # noqa: E402
from simple_history.utils import bulk_create_with_history, bulk_update_with_history  # noqa: E402

from benchmarks import floor  # noqa: E402
from benchmarks.benchapp import models as bench  # noqa: E402
from revy import Context  # noqa: E402
from revy.contrib.django.models import ObjectDelta  # noqa: E402

CHILDREN = 100
CHANGES = 100
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def nothing() -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass
class Library:
    """How one library is set up and driven; None marks what it cannot do."""

    key: str
    item: type[models.Model]
    parent: type[models.Model]
    child: type[models.Model]
    batch_scope: Callable[[], AbstractContextManager[Any]] = nothing
    op_scope: Callable[[], AbstractContextManager[Any]] = nothing
    bulk: Callable[[list[models.Model]], Any] | None = None
    bulk_path: str = ""
    history: Callable[[models.Model], list[Any]] | None = None
    history_api: str = ""
    as_of: Callable[[models.Model, datetime], Any] | None = None
    as_of_api: str = ""
    outermost: bool = False  # its op_scope must be the outermost Context


def save_each(objs: list[models.Model]) -> None:
    with transaction.atomic():
        for obj in objs:
            obj.save()


def revy_history(obj: models.Model) -> list[Any]:
    """The history page of the README: each delta with its attribute deltas, in two queries."""
    return list(revy_history_queryset(obj).prefetch_related(Prefetch("attribute_deltas", to_attr="changes")))


def revy_history_queryset(obj: models.Model) -> Any:
    manager = getattr(obj, "history", None)
    return manager.all() if manager is not None else ObjectDelta.objects.for_object(obj)


def revy_as_of_available() -> bool:
    manager = getattr(bench.RevyItem, "history", None)
    return manager is not None and hasattr(manager, "as_of")


def revy_as_of(obj: models.Model, moment: datetime) -> Any:
    return obj.history.as_of(moment)  # type: ignore[attr-defined]


def reversion_as_of(obj: models.Model, moment: datetime) -> Any:
    version = Version.objects.get_for_object(obj).filter(revision__date_created__lte=moment).first()
    return None if version is None else version.field_dict


def pghistory_event_model(model: type[models.Model]) -> type[models.Model]:
    return apps.get_model("pgapp", f"{model.__name__}Event")


def libraries() -> list[Library]:
    libs = [
        Library("plain", bench.PlainItem, bench.PlainParent, bench.PlainChild),
        Library(
            "revy",
            bench.RevyItem,
            bench.RevyParent,
            bench.RevyChild,
            batch_scope=Context,
            bulk=lambda objs: bench.RevyItem.objects.bulk_create(objs),
            bulk_path="`bulk_create` (recorded by revy's default manager)",
            history=revy_history,
            history_api="`obj.history` with its attribute deltas (`Prefetch(..., to_attr=...)`)"
            if hasattr(bench.RevyItem, "history")
            else "`ObjectDelta.objects.for_object(obj)` with its attribute deltas",
            as_of=revy_as_of if revy_as_of_available() else None,
            as_of_api="`obj.history.as_of(t)`" if revy_as_of_available() else "not available yet",
        ),
        Library(
            "revy, Context per op", bench.RevyItem, bench.RevyParent, bench.RevyChild, op_scope=Context, outermost=True
        ),
        Library(
            "simple-history",
            bench.ShItem,
            bench.ShParent,
            bench.ShChild,
            bulk=lambda objs: bulk_create_with_history(objs, bench.ShItem),
            bulk_path="`bulk_create_with_history`",
            history=lambda obj: list(obj.history.all()),  # type: ignore[attr-defined]
            history_api="`obj.history.all()`",
            as_of=lambda obj, moment: obj.history.as_of(moment),  # type: ignore[attr-defined]
            as_of_api="`obj.history.as_of(t)`",
        ),
        Library(
            "reversion",
            bench.RvItem,
            bench.RvParent,
            bench.RvChild,
            op_scope=reversion.create_revision,
            bulk=lambda objs: [obj.save() for obj in objs],
            bulk_path="save() of each row in one `create_revision()`",
            history=lambda obj: list(Version.objects.get_for_object(obj)),
            history_api="`Version.objects.get_for_object(obj)`",
            as_of=reversion_as_of,
            as_of_api="latest `Version` before t, `.field_dict`",
        ),
        Library(
            "auditlog",
            bench.AlItem,
            bench.AlParent,
            bench.AlChild,
            bulk=save_each,
            bulk_path="save() of each row in one transaction (bulk_create is not logged)",
            history=lambda obj: list(LogEntry.objects.get_for_object(obj)),
            history_api="`LogEntry.objects.get_for_object(obj)`",
            as_of_api="no API",
        ),
    ]
    if "benchmarks.pgapp" in settings.INSTALLED_APPS:
        from benchmarks.pgapp import models as pg

        def events(obj: models.Model) -> Any:
            return pghistory_event_model(type(obj)).objects.filter(pgh_obj_id=obj.pk)

        libs.append(
            Library(
                "pghistory",
                pg.PhItem,
                pg.PhParent,
                pg.PhChild,
                bulk=lambda objs: pg.PhItem.objects.bulk_create(objs),
                bulk_path="`bulk_create` (triggers record it)",
                history=lambda obj: list(events(obj).order_by("-pgh_id")),
                history_api="`<Model>Event.objects.filter(pgh_obj=obj)`",
                as_of=lambda obj, moment: events(obj).filter(pgh_created_at__lte=moment).order_by("-pgh_id").first(),
                as_of_api="latest event before t",
            )
        )
    return libs


def new_item(model: type[models.Model], i: int) -> models.Model:
    return model(name=f"item {i}", count=i, price=Decimal("9.99"), note="first", stamp=None)


def change_all(obj: Any, i: int) -> None:
    obj.name = f"renamed {i}"
    obj.count += 1
    obj.price += Decimal("1.00")
    obj.active = not obj.active
    obj.note = f"note {i}"
    obj.stamp = timezone.now()


def fresh_items(lib: Library, n: int) -> list[models.Model]:
    """``n`` saved rows, loaded back as a view would load them."""
    with Context.as_disabled():
        made = lib.item.objects.bulk_create([new_item(lib.item, i) for i in range(n)])
    return list(lib.item.objects.filter(pk__in=[obj.pk for obj in made]).order_by("pk"))


def fresh_parents(lib: Library, n: int) -> list[models.Model]:
    with Context.as_disabled():
        parents = lib.parent.objects.bulk_create([lib.parent(name=f"parent {i}") for i in range(n)])
        lib.child.objects.bulk_create(
            [lib.child(parent=p, name=f"child {j}", value=j) for p in parents for j in range(CHILDREN)]
        )
    return list(lib.parent.objects.filter(pk__in=[p.pk for p in parents]).order_by("pk"))


@dataclass
class Subject:
    """An object with CHANGES changes, and the moment right after the middle one."""

    obj: models.Model
    middle: datetime


def changed_object(lib: Library) -> Subject:
    with lib.batch_scope():
        with lib.op_scope():
            obj = new_item(lib.item, 0)
            obj.count = 0
            obj.save()
        middle = None
        for change in range(1, CHANGES + 1):
            with lib.op_scope():
                obj.count = change
                obj.save()
            if change == CHANGES // 2:
                time.sleep(0.002)
                middle = timezone.now()
                time.sleep(0.002)
    assert middle is not None
    return Subject(lib.item.objects.get(pk=obj.pk), middle)


@dataclass
class Batch:
    """One round of one operation for one library: steps timed one by one."""

    steps: list[Callable[[], Any]]
    scope: Callable[[], AbstractContextManager[Any]] = nothing
    units: int = 1  # rows each step handles
    outermost: bool = False  # steps open the outermost Context themselves

    def run(self) -> None:
        with self.scope():
            for step in self.steps:
                step()


def batch_of(lib: Library, actions: list[Callable[[], Any]], units: int = 1) -> Batch:
    """Steps doing ``actions``, each in the library's scope for one operation."""

    def in_op_scope(action: Callable[[], Any]) -> Callable[[], None]:
        def step() -> None:
            with lib.op_scope():
                action()

        return step

    return Batch([in_op_scope(action) for action in actions], lib.batch_scope, units, lib.outermost)


def op_create(lib: Library, n: int) -> Batch:
    return batch_of(lib, [new_item(lib.item, i).save for i in range(n)])


def op_update_one(lib: Library, n: int) -> Batch:
    def update(obj: Any) -> None:
        obj.count += 1
        obj.save()

    return batch_of(lib, [partial(update, obj) for obj in fresh_items(lib, n)])


def op_update_all(lib: Library, n: int) -> Batch:
    def update(obj: Any, i: int) -> None:
        change_all(obj, i)
        obj.save()

    objs = fresh_items(lib, n)
    return batch_of(lib, [partial(update, obj, i) for i, obj in enumerate(objs)])


def op_delete(lib: Library, n: int) -> Batch:
    return batch_of(lib, [obj.delete for obj in fresh_items(lib, n)])


def op_cascade(lib: Library, n: int) -> Batch:
    return batch_of(lib, [parent.delete for parent in fresh_parents(lib, n)])


def op_bulk(lib: Library, bulk: Callable[[list[models.Model]], Any], n: int) -> Batch:
    objs = [new_item(lib.item, i) for i in range(n)]
    return batch_of(lib, [partial(bulk, objs)], units=n)


def op_read(read: Callable[[], Any], n: int) -> Batch:
    return Batch([read] * n)


def queryset_update(objs: list[Any]) -> None:
    """One ``update()`` of every row of ``objs``: an expression and a value."""
    model = type(objs[0])
    model.objects.filter(pk__gte=objs[0].pk, pk__lte=objs[-1].pk).update(count=F("count") + 1, note="bulk")


def simple_history_update(objs: list[Any]) -> None:
    """The same change through simple-history's helper, which needs the rows as objects."""
    for obj in objs:
        obj.count += 1
        obj.note = "bulk"
    bulk_update_with_history(objs, bench.ShItem, ["count", "note"])


def op_update_many(lib: Library, update: Callable[[list[Any]], Any], n: int) -> Batch:
    return batch_of(lib, [partial(update, fresh_items(lib, n))], units=n)


@dataclass
class Relation:
    """A model whose objects get members in one ``add()``, for one library."""

    key: str
    tagged: type[models.Model]
    tag: type[models.Model]
    scope: Callable[[], AbstractContextManager[Any]] = nothing


def op_add(relation: Relation, n: int) -> Batch:
    with Context.as_disabled():
        tags = relation.tag.objects.bulk_create([relation.tag(name=f"tag {i}") for i in range(n)])
        tagged = relation.tagged.objects.create(name="tagged")
    return Batch([partial(tagged.tags.add, *tags)], relation.scope, units=n)  # type: ignore[attr-defined]


def bulk_rows(libs: list[Library], sizes: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The bulk paths: creates, one update() of many rows, one add() of many members; per row."""
    plain = libs[0]
    by_key = {lib.key: lib for lib in libs}
    bulk_cases = [
        Case("plain", lambda n: op_bulk(plain, plain.item.objects.bulk_create, n), "`bulk_create`"),
        Case("plain save()", lambda n: op_bulk(plain, save_each, n), "save() of each row in one transaction", None),
    ]
    for lib in libs:
        if lib.bulk is not None:
            baseline = "plain save()" if lib.bulk_path.startswith("save()") else "plain"
            bulk_cases.append(Case(lib.key, partial(op_bulk, lib, lib.bulk), lib.bulk_path, baseline))
    rows = {
        f"{sizes['bulk']:,} creates in one scope (per row)": run_rounds(
            bulk_cases, sizes["bulk"], sizes["bulk_rounds"], counted=1000
        )
    }

    update_cases = [
        Case("plain", partial(op_update_many, plain, queryset_update), "`update(count=F(...) + 1, note=...)`"),
        Case("revy", partial(op_update_many, by_key["revy"], queryset_update), "the same `update()`, recorded"),
        Case(
            "simple-history",
            partial(op_update_many, by_key["simple-history"], simple_history_update),
            "`bulk_update_with_history` of the loaded rows",
        ),
    ]
    if "pghistory" in by_key:
        update_cases.append(
            Case("pghistory", partial(op_update_many, by_key["pghistory"], queryset_update), "`update()` (triggers)")
        )
    rows[f"{sizes['bulk']:,} rows changed by one update() (per row)"] = run_rounds(
        update_cases, sizes["bulk"], sizes["bulk_rounds"], counted=1000
    )

    relations = [
        Relation("plain", bench.PlainTagged, bench.PlainTag),
        Relation("revy", bench.RevyTagged, bench.RevyTag, Context),
        Relation("simple-history", bench.ShTagged, bench.ShTag),
    ]
    notes = {
        "plain": "`obj.tags.add(*tags)` (Django's fast path: nothing listens)",
        "revy": "the same `add()`, recorded",
        "simple-history": "the same `add()`, `HistoricalRecords(m2m_fields=[tags])`",
    }
    add_cases = [Case(r.key, partial(op_add, r), notes[r.key]) for r in relations]
    rows[f"one add() of {sizes['members']:,} members (per member)"] = run_rounds(
        add_cases, sizes["members"], sizes["rounds"], counted=sizes["members"]
    )
    return rows


@dataclass
class Measurement:
    seconds: list[float]  # per unit: the median of each round
    queries: float  # per unit, transaction control left out
    transaction_control: float
    note: str
    baseline: str | None


def count_queries(batch: Batch) -> tuple[float, float]:
    """Statements per unit, and transaction control statements per unit."""
    connection.queries_log.clear()  # the log is capped; a full one would count nothing
    with CaptureQueriesContext(connection) as captured:
        batch.run()
    units = len(batch.steps) * batch.units
    statements = [q["sql"].lstrip().upper() for q in captured.captured_queries]
    control = sum(1 for sql in statements if sql.startswith(TRANSACTION_CONTROL))
    return (len(statements) - control) / units, control / units


@dataclass
class Case:
    """One library's side of one operation: ``prepare(n)`` builds a round of n steps."""

    key: str
    prepare: Callable[[int], Batch]
    note: str = ""
    baseline: str | None = "plain"


def interleave(batches: dict[str, Batch], shift: int) -> dict[str, list[float]]:
    """Seconds per unit of every step of ``batches``, step i of each library in turn.

    Taking turns step by step makes every library meet the same state of the
    machine (other processes, the disk's queue), which a batch after batch
    would not. A batch that must be the outermost scope (a Context per
    operation) runs its steps in the context variables as they were before
    the other batches' scopes were entered.
    """
    times: dict[str, list[float]] = {key: [] for key in batches}
    order = list(batches.items())
    outside = contextvars.copy_context()
    with ExitStack() as scopes:
        for batch in batches.values():
            scopes.enter_context(batch.scope())
        for i in range(max(len(batch.steps) for batch in batches.values())):
            turn = (i + shift) % len(order)
            for key, batch in order[turn:] + order[:turn]:
                if i < len(batch.steps):
                    start = time.perf_counter()
                    if batch.outermost:
                        outside.run(batch.steps[i])
                    else:
                        batch.steps[i]()
                    times[key].append((time.perf_counter() - start) / batch.units)
    return times


def run_rounds(cases: list[Case], n: int, rounds: int, counted: int = 20) -> dict[str, Any]:
    """Count queries on ``counted`` steps (a warm-up too), then time rounds interleaving the libraries."""
    queries = {case.key: count_queries(case.prepare(min(n, counted))) for case in cases}
    seconds: dict[str, list[float]] = {case.key: [] for case in cases}
    for round_index in range(rounds):
        batches = {case.key: case.prepare(n) for case in cases}
        gc.collect()
        for key, times in interleave(batches, round_index).items():
            seconds[key].append(median(times))
    return {
        case.key: Measurement(seconds[case.key], *queries[case.key], case.note, case.baseline).__dict__
        for case in cases
    }


def run_suite(sizes: dict[str, int]) -> dict[str, Any]:
    libs = libraries()
    results: dict[str, dict[str, Any]] = {}
    rounds, rows = sizes["rounds"], sizes["rows"]

    def done(op: str, measured: dict[str, Any]) -> None:
        results.setdefault(op, {}).update(measured)
        print(f"  {connection.vendor}: {op}", file=sys.stderr)

    single = {
        "create": op_create,
        "update one field": op_update_one,
        "update all fields": op_update_all,
        "delete": op_delete,
        f"cascade delete, {CHILDREN} children": op_cascade,
    }
    for op, fn in single.items():
        n = sizes["parents"] if fn is op_cascade else rows
        done(op, run_rounds([Case(lib.key, partial(fn, lib)) for lib in libs], n, rounds))

    for op, measured in bulk_rows(libs, sizes).items():
        done(op, measured)

    readers = [lib for lib in libs if lib.history is not None]
    subjects = {lib.key: changed_object(lib) for lib in readers}
    with connection.cursor() as cursor:
        # Planner statistics, as a live database keeps them (PostgreSQL's autovacuum).
        cursor.execute("ANALYZE")
    history_cases = [
        Case(
            lib.key,
            partial(op_read, partial(lib.history, subjects[lib.key].obj)),  # type: ignore[arg-type]
            lib.history_api,
            baseline=None,
        )
        for lib in readers
    ]
    done(f"history of one object, {CHANGES} changes", run_rounds(history_cases, sizes["reads"], rounds, 3))

    as_of_op = f"state at change {CHANGES // 2} of {CHANGES}"
    as_of_cases = []
    for lib in readers:
        if lib.as_of is None:
            results.setdefault(as_of_op, {})[lib.key] = Measurement([], 0, 0, lib.as_of_api, None).__dict__
            continue
        subject = subjects[lib.key]
        state = lib.as_of(subject.obj, subject.middle)
        count = state.get("count") if isinstance(state, dict) else getattr(state, "count", None)
        wrong = "" if count == CHANGES // 2 else f" (WRONG: count={count!r}, expected {CHANGES // 2})"
        as_of_cases.append(
            Case(
                lib.key,
                partial(op_read, partial(lib.as_of, subject.obj, subject.middle)),
                lib.as_of_api + wrong,
                baseline=None,
            )
        )
    done(as_of_op, run_rounds(as_of_cases, sizes["reads"], rounds, 3))
    return results


def database_version() -> str:
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (file, journal_mode=delete, synchronous=FULL)"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]} (synchronous_commit=on)"


@contextmanager
def test_database() -> Iterator[None]:
    creation = connection.creation
    old_name = connection.settings_dict["NAME"]
    creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        if connection.vendor == "postgresql":
            import pgtrigger

            pgtrigger.install()
        yield
    finally:
        creation.destroy_test_db(old_name, verbosity=0)


def main() -> None:
    sizes = json.loads(sys.argv[1])
    only_bulk = len(sys.argv) > 3 and sys.argv[3] == "bulk"
    with test_database():
        if only_bulk:
            info = {"database": database_version(), "results": bulk_rows(libraries(), sizes)}
        else:
            info = {"database": database_version(), "results": run_suite(sizes)}
            # With server-side binding Django's log shows a statement, not what psycopg sends: nothing to replay.
            if not connection.settings_dict["OPTIONS"].get("server_side_binding"):
                info["cascade_floor"] = floor.listening_cascade(3 * sizes["parents"])
                info["floor"] = floor.measure(sizes["floor"], new_item)  # last: it drops revy's indexes
        info["time"] = timezone.now().isoformat()
    with open(sys.argv[2], "w") as output:
        json.dump(info, output)


if __name__ == "__main__":
    main()
