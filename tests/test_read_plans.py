"""PostgreSQL plans of the reads, on delta tables large enough for the planner to prefer its indexes.

The tables get 100,000 attribute deltas of 10,000 object deltas of other
objects, spread over revisions and actors as a live site's are, and ANALYZE
gives the planner their statistics; no planner setting is changed. Every
statement a read sends is then EXPLAINed: none may read a delta table
sequentially, and each reads one through an index.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revy import Context
from revy.contrib.django.models import AttributeDelta, ObjectDelta, ObjectSnapshot, Revision
from tests.testapp.models import Author, Post, Record

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN's plan format is PostgreSQL's"),
]

DELTA_TABLES = {ObjectDelta._meta.db_table, AttributeDelta._meta.db_table}
OTHER_OBJECT_DELTAS = 10_000
FIELDS_EACH = 10


def add_deltas_of_other_objects(object_deltas: int = OTHER_OBJECT_DELTAS) -> None:
    """Deltas of other Records, 10 fields each, by 2,000 actors in a revision per 10 object deltas."""
    record_type = ContentType.objects.get_for_model(Record).pk
    user_type = ContentType.objects.get_for_model(User).pk
    od, ad = ObjectDelta._meta.db_table, AttributeDelta._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {od} (revision_id, actor_content_type_id, actor_id, actor_label, action, description, "
            "content_type_id, content_id, created_at) "
            "SELECT 1000000 + g / 10, %s, (g %% 2000)::text, 'user ' || (g %% 2000), 2, '', %s, (g / 10)::text, now() "
            "FROM generate_series(0, %s) g",
            [user_type, record_type, object_deltas - 1],
        )
        cursor.execute(
            f"INSERT INTO {ad} (revision_id, object_delta_id, actor_content_type_id, actor_id, actor_label, action, "
            "description, content_type_id, content_id, field_name, old_value, new_value, created_at) "
            "SELECT d.revision_id, d.id, d.actor_content_type_id, d.actor_id, d.actor_label, 1, '', d.content_type_id, "
            "d.content_id, 'f' || f, '0'::jsonb, '1'::jsonb, d.created_at "
            f"FROM {od} d CROSS JOIN generate_series(1, %s) f WHERE d.content_type_id = %s",
            [FIELDS_EACH, record_type],
        )
        cursor.execute(f"ANALYZE {od}")
        cursor.execute(f"ANALYZE {ad}")


@pytest.fixture
def history() -> dict[str, Any]:
    editor = User.objects.create(username="editor")
    with Context.via_actor(editor):
        author = Author.objects.create(name="ann")
        post = Post.objects.create(author=author, title="draft")
        for i in range(20):
            post.title = f"take {i}"
            post.save()
    middle = post.history.all()[10].created_at
    with Context.via_revision_description("ann leaves"):
        author.delete()
    add_deltas_of_other_objects()
    return {"editor": editor, "post": post, "middle": middle, "leaving": Revision.objects.get(description="ann leaves")}


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def scans_of_delta_tables(read: Callable[[], Any]) -> list[tuple[str, str]]:
    """(node type, table) of every scan of a delta table in the plans of the SELECTs ``read`` sends."""
    with CaptureQueriesContext(connection) as captured:
        read()
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert selects, "the read sent no SELECT"
    scans = []
    with connection.cursor() as cursor:
        for sql in selects:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            explained = cursor.fetchone()[0]
            plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]
            scans += [
                (node["Node Type"], node["Relation Name"])
                for node in plan_nodes(plan["Plan"])
                if node.get("Relation Name") in DELTA_TABLES
            ]
    return scans


READS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "history": lambda h: list(h["post"].history.all()),
    "history records": lambda h: h["post"].history.records(),
    "a page of records": lambda h: h["post"].history[5:15].records(),
    "field_history": lambda h: list(h["post"].history.field_history("title")),
    "as_of": lambda h: h["post"].history.as_of(h["middle"]),
    "with_snapshot": lambda h: list(h["post"].history.with_snapshot()[:10]),
    "snapshot at an offset": lambda h: h["post"].history.order_by("pk").with_snapshot()[10].snapshot,
    "deleted": lambda h: [d.snapshot for d in Post.history.deleted()],
    "ObjectDelta.objects.by_actor": lambda h: list(ObjectDelta.objects.by_actor(h["editor"])),
    "revision.actors()": lambda h: h["leaving"].actors(),
    "undo of a revision": lambda h: h["leaving"].revert(),
}


def test_every_read_seeks_an_index_and_never_scans_a_delta_table(history):
    # One test for all reads: the tables are filled once.
    scans = {name: scans_of_delta_tables(lambda read=read: read(history)) for name, read in READS.items()}
    assert [name for name, found in scans.items() if not found] == []  # each reads a delta table
    not_by_index = {
        name: [scan for scan in found if not scan[0].startswith(("Index", "Bitmap"))] for name, found in scans.items()
    }
    assert {name: found for name, found in not_by_index.items() if found} == {}


def test_a_snapshot_at_an_offset_is_computed_for_the_row_returned_only(history):
    deltas = history["post"].history.order_by("pk").annotate(snapshot=ObjectSnapshot(Post))[15:16]
    sql, params = deltas.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        explained = cursor.fetchone()[0]
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    subplans = [node for node in plan_nodes(plan) if node.get("Subplan Name", "").startswith("SubPlan")]
    assert subplans  # the fields' seeks, and the read of a CREATE's or DELETE's own (not run for an update)
    assert max(node["Actual Loops"] for node in subplans) == 1
    assert deltas[0].snapshot.title == "take 14"


def test_the_attribute_deltas_of_a_large_revision_are_read_by_index_beside_a_mid_sized_table():
    # As a join, PostgreSQL hashes the whole attribute delta table here (20,000 rows) rather than
    # seek the 150 object deltas' own: ten times slower than the index.
    with Context.via_revision_description("a big one"):
        for i in range(150):
            Author.objects.create(name=f"a{i}")
    add_deltas_of_other_objects(2_000)
    revision = Revision.objects.get(description="a big one")
    for read in (revision.actors, lambda: list(AttributeDelta.objects.of_revision(revision)), revision.revert):
        scans = scans_of_delta_tables(read)
        assert scans and all(scan.startswith(("Index", "Bitmap")) for scan, _ in scans), scans
    assert len(AttributeDelta.objects.of_revision(revision)) == 150 * 2  # id and name


def test_a_scan_of_a_delta_table_is_seen(history):
    # Attribute deltas have no index on their actor: this read must show up as a sequential scan.
    scans = scans_of_delta_tables(lambda: list(AttributeDelta.objects.by_actor(history["editor"])))
    assert ("Seq Scan", AttributeDelta._meta.db_table) in scans
    assert AttributeDelta.objects.count() > OTHER_OBJECT_DELTAS * FIELDS_EACH
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [AttributeDelta._meta.db_table])
        assert cursor.fetchone()[0] >= OTHER_OBJECT_DELTAS * FIELDS_EACH  # ANALYZE saw them
