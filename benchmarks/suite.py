"""The operations, run for every library on one database in one process.

``python -m benchmarks.suite SIZES_JSON OUTPUT_JSON [bulk]`` with
``DJANGO_SETTINGS_MODULE=benchmarks.settings``; ``benchmarks.run`` calls it
(``bulk``: only the bulk rows, ``reads``: only the reads, without the floors).

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
from dataclasses import dataclass, field
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
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.db.models import F  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from reversion.models import Version  # noqa: E402
from simple_history.utils import bulk_create_with_history, bulk_update_with_history  # noqa: E402

from benchmarks import floor  # noqa: E402
from benchmarks.benchapp import models as bench  # noqa: E402
from revy import Context  # noqa: E402
from revy.contrib.django.models import AttributeDelta, ObjectDelta, ObjectSnapshot, Revision  # noqa: E402

CHILDREN = 100
CHANGES = 100
LOADED = 100
LOAD = f"load {LOADED} rows (per row)"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def nothing() -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass
class Subject:
    """What the reads read: an object with CHANGES changes, the moment right after the middle one,
    and the pks of GONE objects, each created, updated once and deleted."""

    obj: models.Model
    middle: datetime
    gone: list[Any]


@dataclass
class Read:
    """One library's nearest equivalent of a read, and how it does it."""

    read: Callable[[Subject], Any]
    api: str


HISTORY = f"history of one object, {CHANGES} changes"
AS_OF = f"state at change {CHANGES // 2} of {CHANGES}"
SNAPSHOT = f"snapshot at change {CHANGES // 2}, by position"
PAGE = "a page of 20 deltas with the state after each"
FIELD_HISTORY = "one field's history"
DELETED = "deleted objects, restorable (10 of them)"
ACTORS = f"actors of a revision of {CHANGES + 1} deltas"
READS = [HISTORY, AS_OF, SNAPSHOT, PAGE, FIELD_HISTORY, DELETED, ACTORS]
AT_SCALE = [HISTORY, AS_OF, SNAPSHOT]
GONE = 10
PAGE_SIZE = 20
# Attribute deltas of other objects beside which the reads run again (rows at scale).
OTHER_ATTRIBUTE_DELTAS = {"postgresql": 1_000_000, "sqlite": 100_000}


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
    reads: dict[str, Read] = field(default_factory=dict)  # by row name; a row it lacks is "no API"
    outermost: bool = False  # its op_scope must be the outermost Context


def save_each(objs: list[models.Model]) -> None:
    with transaction.atomic():
        for obj in objs:
            obj.save()


def revy_snapshot(subject: Subject) -> Any:
    """The seed's own example: the deltas of the object in order, each annotated, the 50th taken."""
    deltas = ObjectDelta.objects.for_object(subject.obj).order_by("pk")
    return deltas.annotate(snapshot=ObjectSnapshot(type(subject.obj)))[CHANGES // 2].snapshot


def revy_reads() -> dict[str, Read]:
    def history(s: Subject) -> Any:
        return s.obj.history.records()  # type: ignore[attr-defined]

    def deleted(s: Subject) -> Any:
        return [d.snapshot for d in bench.RevyItem.history.filter(content_id__in=[str(pk) for pk in s.gone]).deleted()]  # type: ignore[attr-defined]

    return {
        HISTORY: Read(history, "`obj.history.records()`"),
        AS_OF: Read(lambda s: s.obj.history.as_of(s.middle), "`obj.history.as_of(t)`"),  # type: ignore[attr-defined]
        SNAPSHOT: Read(revy_snapshot, "`for_object(obj).order_by('pk').annotate(snapshot=ObjectSnapshot(M))[50]`"),
        PAGE: Read(lambda s: list(s.obj.history.with_snapshot()[:PAGE_SIZE]), "`obj.history.with_snapshot()[:20]`"),  # type: ignore[attr-defined]
        FIELD_HISTORY: Read(
            lambda s: list(s.obj.history.field_history("count")),  # type: ignore[attr-defined]
            "`obj.history.field_history('count')` (no peer has one)",
        ),
        DELETED: Read(deleted, "`M.history.filter(content_id__in=...).deleted()`, each `.snapshot`"),
        ACTORS: Read(
            lambda s: s.obj.history.first().revision.actors(),  # type: ignore[attr-defined]
            "`obj.history.first().revision.actors()` (no peer has one)",
        ),
    }


def reversion_reads() -> dict[str, Read]:
    def versions(s: Subject) -> Any:
        return Version.objects.get_for_object(s.obj)

    def as_of(s: Subject) -> Any:
        version = versions(s).filter(revision__date_created__lte=s.middle).first()
        return None if version is None else version.field_dict

    return {
        HISTORY: Read(lambda s: list(versions(s)), "`Version.objects.get_for_object(obj)`"),
        AS_OF: Read(as_of, "latest `Version` before t, `.field_dict`"),
        SNAPSHOT: Read(lambda s: versions(s).order_by("pk")[CHANGES // 2].field_dict, "`[50].field_dict`"),
        PAGE: Read(lambda s: [v.field_dict for v in versions(s)[:PAGE_SIZE]], "`[:20]`, each `.field_dict`"),
        DELETED: Read(
            lambda s: [
                v.field_dict
                for v in Version.objects.get_deleted(bench.RvItem).filter(object_id__in=[str(pk) for pk in s.gone])
            ],
            "`Version.objects.get_deleted(M)`, each `.field_dict`",
        ),
    }


def simple_history_reads() -> dict[str, Read]:
    def records(s: Subject) -> Any:
        return s.obj.history  # type: ignore[attr-defined]

    return {
        HISTORY: Read(lambda s: list(records(s).all()), "`obj.history.all()`"),
        AS_OF: Read(lambda s: records(s).as_of(s.middle), "`obj.history.as_of(t)`"),
        SNAPSHOT: Read(lambda s: records(s).order_by("history_id")[CHANGES // 2].instance, "`[50].instance`"),
        PAGE: Read(lambda s: [h.instance for h in records(s).all()[:PAGE_SIZE]], "`[:20]`, each `.instance`"),
        DELETED: Read(
            lambda s: [h.instance for h in bench.ShItem.history.filter(history_type="-", id__in=s.gone)],
            "`M.history.filter(history_type='-')`, each `.instance`",
        ),
    }


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
            reads=revy_reads(),
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
            reads=simple_history_reads(),
        ),
        Library(
            "reversion",
            bench.RvItem,
            bench.RvParent,
            bench.RvChild,
            op_scope=reversion.create_revision,
            bulk=lambda objs: [obj.save() for obj in objs],
            bulk_path="save() of each row in one `create_revision()`",
            reads=reversion_reads(),
        ),
        Library(
            "auditlog",
            bench.AlItem,
            bench.AlParent,
            bench.AlChild,
            bulk=save_each,
            bulk_path="save() of each row in one transaction (bulk_create is not logged)",
            reads={
                HISTORY: Read(
                    lambda s: list(LogEntry.objects.get_for_object(s.obj)), "`LogEntry.objects.get_for_object(obj)`"
                )
            },
        ),
    ]
    if "benchmarks.pgapp" in settings.INSTALLED_APPS:
        from benchmarks.pgapp import models as pg

        def events(s: Subject) -> Any:
            return pghistory_event_model(type(s.obj)).objects.filter(pgh_obj_id=s.obj.pk)

        def deleted(s: Subject) -> Any:
            return list(pghistory_event_model(pg.PhItem).objects.filter(pgh_label="delete", pgh_obj_id__in=s.gone))

        libs.append(
            Library(
                "pghistory",
                pg.PhItem,
                pg.PhParent,
                pg.PhChild,
                bulk=lambda objs: pg.PhItem.objects.bulk_create(objs),
                bulk_path="`bulk_create` (triggers record it)",
                reads={
                    HISTORY: Read(
                        lambda s: list(events(s).order_by("-pgh_id")), "`<Model>Event.objects.filter(pgh_obj=obj)`"
                    ),
                    AS_OF: Read(
                        lambda s: events(s).filter(pgh_created_at__lte=s.middle).order_by("-pgh_id").first(),
                        "latest event before t",
                    ),
                    SNAPSHOT: Read(lambda s: events(s).order_by("pgh_id")[CHANGES // 2], "`[50]` of the events"),
                    PAGE: Read(lambda s: list(events(s).order_by("-pgh_id")[:PAGE_SIZE]), "`[:20]` of the events"),
                    DELETED: Read(deleted, "delete events (`pgh_label='delete'`)"),
                },
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
        gone = []
        for i in range(GONE):
            with lib.op_scope():
                doomed = new_item(lib.item, i)
                doomed.save()
            with lib.op_scope():
                doomed.count += 1
                doomed.save()
            gone.append(doomed.pk)
            with lib.op_scope():
                doomed.delete()
    assert middle is not None
    return Subject(lib.item.objects.get(pk=obj.pk), middle, gone)


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


def op_load(lib: Library, n: int) -> Batch:
    """Loading rows of the tracked model as a list view does: what tracking costs your own reads, per row."""
    pks = [obj.pk for obj in fresh_items(lib, LOADED)]

    def load() -> list[models.Model]:
        return list(lib.item.objects.filter(pk__in=pks))

    return batch_of(lib, [load] * n, units=LOADED)


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


Done = Callable[[str, dict[str, Any]], None]


def run_suite(sizes: dict[str, int]) -> dict[str, Any]:
    libs = libraries()
    results: dict[str, dict[str, Any]] = {}

    def done(op: str, measured: dict[str, Any]) -> None:
        results.setdefault(op, {}).update(measured)
        print(f"  {connection.vendor}: {op}", file=sys.stderr)

    measure_writes(libs, sizes, done)
    measure_reads(libs, sizes, done)
    return results


def measure_writes(libs: list[Library], sizes: dict[str, int], done: Done) -> None:
    rounds, rows = sizes["rounds"], sizes["rows"]
    single = {
        "create": op_create,
        "update one field": op_update_one,
        "update all fields": op_update_all,
        "delete": op_delete,
        f"cascade delete, {CHILDREN} children": op_cascade,
        LOAD: op_load,
    }
    for op, fn in single.items():
        n = sizes["parents"] if fn is op_cascade else rows
        done(op, run_rounds([Case(lib.key, partial(fn, lib)) for lib in libs], n, rounds))

    for op, measured in bulk_rows(libs, sizes).items():
        done(op, measured)


def measure_reads(libs: list[Library], sizes: dict[str, int], done: Done) -> None:
    """Each read of every library that has it; then revy's again beside many deltas of other objects."""
    rounds = sizes["rounds"]
    small: dict[str, float] = {}
    readers = [lib for lib in libs if lib.reads]
    subjects = {lib.key: changed_object(lib) for lib in readers}
    analyze()
    for op in READS:
        cases = []
        for lib in readers:
            read = lib.reads.get(op)
            if read is None:
                done(op, {lib.key: Measurement([], 0, 0, "no API", None).__dict__})
                continue
            subject = subjects[lib.key]
            note = read.api + wrong_result(op, read.read(subject))
            cases.append(Case(lib.key, partial(op_read, partial(read.read, subject)), note, baseline=None))
        measured = run_rounds(cases, sizes["reads"], rounds, 3)
        small[op] = median(measured["revy"]["seconds"])
        done(op, measured)

    revy = next(lib for lib in readers if lib.key == "revy")
    others = OTHER_ATTRIBUTE_DELTAS[connection.vendor]
    revision = add_other_objects_deltas(others)
    settle(ObjectDelta, AttributeDelta)
    for op in AT_SCALE:
        read = revy.reads[op]
        case = Case("revy", partial(op_read, partial(read.read, subjects["revy"])), read.api, baseline=None)
        measured = run_rounds([case], sizes["reads"], rounds, 3)
        cell = measured["revy"]
        cell["note"] += f"; {median(cell['seconds']) / small[op]:.2f}\u00d7 its time beside small tables"
        done(f"{op}, beside {others:,} attribute deltas of other objects", measured)
    remove_deltas_of(revision)  # the floor replays writes on tables as the write rows left them


def analyze() -> None:
    with connection.cursor() as cursor:
        # Planner statistics, as a live database keeps them (PostgreSQL's autovacuum).
        cursor.execute("ANALYZE")


def settle(*models_written: type[models.Model]) -> None:
    """After a bulk insert, what autovacuum would do soon: done now, so it does not run during the reads."""
    if connection.vendor != "postgresql":
        analyze()
        return
    with connection.cursor() as cursor:
        for model in models_written:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def wrong_result(op: str, result: Any) -> str:
    """A note when a library's read does not give what the row asks (empty when it does)."""
    if op in (AS_OF, SNAPSHOT):
        count = result.get("count") if isinstance(result, dict) else getattr(result, "count", None)
        if count != CHANGES // 2:
            return f" (WRONG: count={count!r}, expected {CHANGES // 2})"
    if op == DELETED and len(result) != GONE:
        return f" (WRONG: {len(result)} objects, expected {GONE})"
    return ""


def add_other_objects_deltas(rows: int) -> Any:
    """``rows`` attribute deltas (10 per object delta, 10 object deltas per object) of objects
    other than the reads' subject, written by two INSERT ... SELECT statements; returns their revision."""
    revision = Revision.objects.create(description="other objects")
    content_type = ContentType.objects.get_for_model(bench.RevyItem)
    quote = connection.ops.quote_name
    numbers = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
    od, ad = ObjectDelta._meta.db_table, AttributeDelta._meta.db_table
    value = f"CAST(%s AS {AttributeDelta._meta.get_field('new_value').db_type(connection)})"
    with connection.cursor() as cursor:
        cursor.execute(
            numbers + f"INSERT INTO {quote(od)} (revision_id, action, description, actor_label, content_type_id, "
            "content_id, created_at) SELECT %s, %s, '', '', %s, CAST(%s + i / 10 AS VARCHAR(255)), %s FROM n",
            [rows // 10 - 1, revision.pk, ObjectDelta.ACTION_UPDATE, content_type.pk, 10**9, timezone.now()],
        )
        cursor.execute(
            numbers + f"INSERT INTO {quote(ad)} (revision_id, object_delta_id, action, description, actor_label, "
            "content_type_id, content_id, field_name, old_value, new_value, created_at) "
            f"SELECT d.revision_id, d.id, %s, '', '', d.content_type_id, d.content_id, 'f' || CAST(i AS VARCHAR(2)), "
            f"{value}, {value}, d.created_at FROM {quote(od)} d CROSS JOIN n WHERE d.revision_id = %s",
            [9, AttributeDelta.ACTION_SET, "0", "1", revision.pk],
        )
    return revision


def remove_deltas_of(revision: Any) -> None:
    with connection.cursor() as cursor:
        for model in (AttributeDelta, ObjectDelta):
            cursor.execute(
                f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)} WHERE revision_id = %s", [revision.pk]
            )
    revision.delete()


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
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    with test_database():
        if only == "bulk":
            info = {"database": database_version(), "results": bulk_rows(libraries(), sizes)}
        elif only == "reads":
            results: dict[str, Any] = {}
            measure_reads(libraries(), sizes, lambda op, measured: results.setdefault(op, {}).update(measured))
            info = {"database": database_version(), "results": results}
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
