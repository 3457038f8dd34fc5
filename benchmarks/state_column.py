"""What a history page would cost if each object delta held its whole state: ``python -m benchmarks.state_column``.

A measurement for a design revy does not have. On the database of
``benchmarks.settings`` (REVY_BENCH_DB), beside the bench's object with 100
changes and 20,000 attribute deltas of other objects, it times a page of 20
deltas with the state after each read three ways, taking turns (medians of
REVY_STATE_ROUNDS rounds, default 15, of 40 reads):

- revy today: ``obj.history.with_snapshot()[:20]``;
- the same page if each object delta carried the object's whole state as
  JSON text beside its per-field deltas: one statement selecting the deltas
  and that text (here the create's values, sent as a parameter), and the
  same delta and snapshot instances built from it;
- the peers' page of the bench.
"""

from __future__ import annotations

import os
import time
from statistics import median
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

from django.db import connection

from benchmarks import suite
from revy.contrib.django.content_types import content_type_of
from revy.contrib.django.models import get_object_delta_model
from revy.contrib.django.snapshot import OwnChanges, snapshot_of, stored_values


def state_column_page(obj: Any) -> Any:
    """The page of 20 as one statement would give it if the state were a column of the object deltas."""
    delta_model = get_object_delta_model()
    model = type(obj)
    creates = delta_model.objects.for_object(obj).creates()
    state = creates.annotate(state=OwnChanges()).values_list("state", flat=True)[0]
    attnames = [f.attname for f in delta_model._meta.concrete_fields]
    quote = connection.ops.quote_name
    table = quote(delta_model._meta.db_table)
    columns = ", ".join(f"{table}.{quote(f.column)}" for f in delta_model._meta.concrete_fields)
    sql = (
        f"SELECT {columns}, %s FROM {table} WHERE {quote('content_type_id')} = %s AND {quote('content_id')} = %s "
        f"ORDER BY {quote('id')} DESC LIMIT {suite.PAGE_SIZE}"
    )
    keys = [state, content_type_of(model, "default").pk, str(obj.pk)]

    def read() -> list[Any]:
        with connection.cursor() as cursor:
            cursor.execute(sql, keys)
            rows = cursor.fetchall()
        page = []
        for row in rows:
            delta = delta_model.from_db("default", attnames, row[:-1])
            delta.snapshot = snapshot_of(model, stored_values(row[-1]), "default")
            page.append(delta)
        return page

    return read


def main() -> None:
    rounds = int(os.environ.get("REVY_STATE_ROUNDS", "15"))
    with suite.test_database():
        libraries = [lib for lib in suite.libraries() if suite.PAGE in lib.reads]
        subjects = {lib.key: suite.changed_object(lib) for lib in libraries}
        suite.add_other_objects_deltas(20_000)
        suite.analyze()
        revy = subjects["revy"].obj
        reads = {
            "revy today": lambda: list(revy.history.with_snapshot()[: suite.PAGE_SIZE]),
            "revy with a state column (prototype)": state_column_page(revy),
        }
        for lib in libraries:
            if lib.key != "revy":
                reads[lib.key] = lambda read=lib.reads[suite.PAGE].read, s=subjects[lib.key]: read(s)
        times: dict[str, list[float]] = {name: [] for name in reads}
        for _ in range(rounds):
            for name, read in reads.items():
                spent = []
                for _ in range(40):
                    start = time.perf_counter()
                    read()
                    spent.append(time.perf_counter() - start)
                times[name].append(median(spent))
    print(f"{connection.vendor}: {suite.PAGE} (medians of {rounds} rounds)")
    for name, seconds in times.items():
        print(f"  {name}: {median(seconds) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
