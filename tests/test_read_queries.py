"""Each read of the past in a number of queries that does not grow with the rows: 10 or 100 alike."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from revy import Context
from revy.contrib.django.models import AttributeDelta, ObjectDelta, ObjectSnapshot
from tests.testapp.models import Article, Author, Label, Organization, Post, Record

pytestmark = pytest.mark.django_db

SIZES = [10, 100]


def queries_of(read):
    ContentType.objects.get_for_model(Record)  # the content type cache is warm on a running site
    ContentType.objects.get_for_model(User)
    with CaptureQueriesContext(connection) as captured:
        result = read()
    return len(captured), result


def changed_record(changes: int) -> Record:
    with Context():
        record = Record.objects.create(title="v0", count=0, price=Decimal("1.50"))
        for i in range(1, changes + 1):
            record.title = f"v{i}"
            record.count = i
            record.save()
    return record


@pytest.mark.parametrize("rows", SIZES)
def test_history_records_take_one_query_and_a_page_two(rows):
    record = changed_record(rows - 1)
    count, records = queries_of(lambda: record.history.records())
    assert count == 1 and len(records) == rows
    count, page = queries_of(lambda: record.history[2:7].records())
    assert count == 2 and [r.pk for r in page] == [d.pk for d in record.history.all()[2:7]]


@pytest.mark.parametrize("rows", SIZES)
def test_snapshots_of_every_delta_take_one_query(rows):
    record = changed_record(rows - 1)
    count, deltas = queries_of(lambda: list(record.history.with_snapshot()))
    assert count == 1 and [d.snapshot.count for d in deltas] == list(range(rows - 1, -1, -1))
    annotated = ObjectDelta.objects.for_object(record).order_by("pk").annotate(snapshot=ObjectSnapshot(Record))
    count, middle = queries_of(lambda: annotated[rows // 2].snapshot)
    assert count == 1 and (middle.count, middle.title) == (rows // 2, f"v{rows // 2}")


def test_a_snapshot_filtered_on_and_sliced_with_an_offset():
    record = changed_record(5)
    deltas = ObjectDelta.objects.for_object(record).order_by("pk").annotate(snapshot=ObjectSnapshot(Record))
    assert deltas.filter(snapshot__isnull=False)[2].snapshot.title == "v2"
    by_snapshot = deltas.order_by("-snapshot")
    assert by_snapshot[1].pk == list(by_snapshot)[1].pk


@pytest.mark.parametrize("rows", SIZES)
def test_as_of_and_field_history_take_one_query(rows):
    record = changed_record(rows - 1)
    moment = record.history.order_by("pk")[rows // 2].created_at
    count, state = queries_of(lambda: record.history.as_of(moment))
    assert count == 1 and state.count == rows // 2
    count, changes = queries_of(lambda: list(record.history.field_history("count")))
    assert count == 1 and [c.new_value for c in changes] == list(range(rows - 1, -1, -1))


@pytest.mark.parametrize("rows", SIZES)
def test_deleted_objects_with_snapshots_take_one_query(rows):
    with Context():
        records = [Record.objects.create(title=f"gone {i}") for i in range(rows)]
        for record in records[1:]:
            record.delete()
        Record.objects.create(title="alive")
    count, snapshots = queries_of(lambda: [d.snapshot for d in Record.history.deleted()])
    assert count == 1 and sorted(s.title for s in snapshots) == sorted(f"gone {i}" for i in range(1, rows))


@pytest.mark.parametrize("rows", SIZES)
def test_deleted_objects_of_a_uuid_pk_model_take_three_queries(rows):
    with Context():
        organizations = [Organization.objects.create(name=f"gone {i}") for i in range(rows)]
        gone = sorted(o.pk for o in organizations[1:])
        for organization in organizations[1:]:
            organization.delete()
    count, snapshots = queries_of(lambda: [d.snapshot for d in Organization.history.deleted()])
    assert count == 3 and sorted(s.pk for s in snapshots) == gone


@pytest.mark.parametrize("rows", SIZES)
def test_actors_of_a_revision_take_a_query_and_one_per_actor_model(rows):
    users = User.objects.bulk_create([User(username=f"u{i}") for i in range(rows)])
    with Context():
        for user in users:
            with Context.via_actor(user):
                Author.objects.create(name=user.username)
    revision = Author.history.first().revision
    count, actors = queries_of(revision.actors)
    assert count == 2 and sorted(a.username for a in actors) == sorted(u.username for u in users)


@pytest.mark.parametrize("rows", SIZES)
def test_snapshots_of_mixed_models_take_a_query_per_model(rows):
    with Context():
        author = Author.objects.create(name="ann")
        for i in range(rows):
            Post.objects.create(author=author, title=f"p{i}")
    ContentType.objects.get_for_model(Author)
    ContentType.objects.get_for_model(Post)
    revision = author.history.get().revision
    count, deltas = queries_of(lambda: list(ObjectDelta.objects.filter(revision=revision).with_snapshot()))
    assert count == 3 and len(deltas) == rows + 1


def test_records_carry_each_changed_field_typed_in_the_history_order():
    editor = User.objects.create(username="editor")
    with Context():
        record = Record.objects.create(title="a", price=Decimal("1.50"), day=datetime.date(2024, 2, 29))
        with Context.via_actor(editor):
            record.price = Decimal("2.25")
            record.save()
        record.delete()
    deleted, updated, created = Record.history.records()
    assert [r.get_action_display() for r in (deleted, updated, created)] == ["delete", "update", "create"]
    assert (updated.changes["price"].old, updated.changes["price"].new) == (Decimal("1.50"), Decimal("2.25"))
    assert list(updated.changes) == ["price"]
    assert (updated.actor_content_type_id, updated.actor_id) == (
        ContentType.objects.get_for_model(User).pk,
        str(editor.pk),
    )
    assert updated.actor_label == str(editor) and created.actor_label == ""
    assert updated.changes["price"].actor_label == str(editor)
    assert created.changes["day"].new == datetime.date(2024, 2, 29) and created.changes["day"].old is None
    assert deleted.changes["price"].old == Decimal("2.25")
    assert deleted.changes["price"].action == AttributeDelta.ACTION_UNSET
    assert isinstance(created.created_at, datetime.datetime) and created.created_at.tzinfo is not None


def test_records_give_values_of_fields_the_model_no_longer_has_as_stored():
    with Context():
        record = Record.objects.create(title="t")
    AttributeDelta.objects.filter(object_delta__content_id=str(record.pk), field_name="title").update(field_name="gone")
    (created,) = record.history.records()
    assert created.changes["gone"].new == "t" and "title" not in created.changes


# obj.history's own reads run a statement compiled once: each call gets its object's rows


def as_records(records):
    return [(r.pk, r.action, {name: (c.old, c.new) for name, c in r.changes.items()}) for r in records]


def test_the_records_of_each_object_are_its_own_and_as_a_filtered_history_gives_them():
    first, second = changed_record(3), changed_record(5)
    for record in (first, second, first):
        assert as_records(record.history.records()) == as_records(record.history.filter(pk__gt=0).records())
    assert [r.changes["count"].new for r in second.history.records()] == [5, 4, 3, 2, 1, 0]
    updates = first.history.filter(action=ObjectDelta.ACTION_UPDATE).records()
    assert [r.changes["count"].new for r in updates] == [3, 2, 1]


def test_as_of_gives_each_object_its_state_at_each_moment_in_any_time_zone():
    first, second = changed_record(4), changed_record(2)
    for record, changes in ((first, 4), (second, 2), (first, 4)):
        moments = [d.created_at for d in record.history.order_by("pk")]
        assert [record.history.as_of(m).count for m in moments] == list(range(changes + 1))
        elsewhere = moments[1].astimezone(datetime.timezone(datetime.timedelta(hours=-7)))
        assert record.history.as_of(elsewhere).count == 1
        assert record.history.as_of(moments[0] - datetime.timedelta(seconds=1)) is None
    before_delete = second.history.first().created_at
    gone = Record(pk=second.pk)
    with Context():
        second.delete()
    assert gone.history.as_of(gone.history.first().created_at) is None
    assert gone.history.as_of(before_delete).count == 2


def test_the_compiled_reads_go_through_execute_wrappers():
    record = changed_record(2)
    record.history.records()
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        assert len(record.history.records()) == 3
        assert record.history.as_of(record.history.first().created_at).count == 2
    assert len(seen) == 3  # records, first(), as_of


def test_pages_with_snapshots_give_each_object_its_states_and_chain_as_django_querysets_do():
    first, second = changed_record(6), changed_record(3)
    for record, changes in ((first, 6), (second, 3), (first, 6)):
        everything = [(d.pk, d.snapshot.count) for d in record.history.with_snapshot()]
        assert [count for _, count in everything] == list(range(changes, -1, -1))
        for low, high in ((0, 2), (1, 3), (2, None)):
            count, page = queries_of(lambda r=record, a=low, b=high: list(r.history.with_snapshot()[a:b]))
            assert count == 1
            assert [(d.pk, d.snapshot.count) for d in page] == everything[low:high]
            assert all(isinstance(d.created_at, datetime.datetime) and d.revision_id for d in page)
    page = first.history.with_snapshot()[1:4]
    assert list(page.values_list("pk", flat=True)) == [pk for pk, _ in everything[1:4]]
    assert [d.snapshot.title for d in page.select_related("revision")] == ["v5", "v4", "v3"]
    assert [d.snapshot.count for d in first.history.with_snapshot()[:5][1:3]] == [5, 4]
    assert first.history.with_snapshot()[2].snapshot.count == 4


def state(instance) -> dict | None:
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_pages_of_snapshots_equal_each_deltas_own_snapshot_through_deletes_memberships_and_every_field_type():
    """A page folds each delta's changes onto its oldest snapshot: it must give what each delta's own gives."""
    with Context():
        record = Record.objects.create(title="a", data={"k": [1]}, blob=b"\x00x", day=datetime.date(2020, 1, 2))
        record.organization = Organization.objects.create(name="o")
        record.save()
        record.data = None
        record.moment = datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
        record.save()
        record.delete()
    with Context():
        Record.history.deleted().get().snapshot.save()  # undeleted: a CREATE after the DELETE
        record = Record.objects.get()
        record.title, record.price = "b", Decimal("2.5")
        record.save()
    with Context():
        article = Article.objects.create(title="t")
        article.labels.add(Label.objects.create(name="l"))  # a delta of memberships only
        article.count = 3
        article.save()
    for obj, deltas in ((record, 6), (article, 3)):
        history = list(obj.history.all())
        own = {
            d.pk: state(d.snapshot)
            for d in ObjectDelta.objects.for_object(obj).annotate(snapshot=ObjectSnapshot(type(obj)))
        }
        assert len(own) == len(history) == deltas and all(own.values())
        for low, high in ((0, deltas), (0, 2), (1, 4), (2, None), (4, 50), (6, 9), (0, 1)):
            count, page = queries_of(lambda o=obj, a=low, b=high: list(o.history.with_snapshot()[a:b]))
            # A second query when the page's oldest delta is an update that stored no state (here the memberships').
            oldest = history[low:high][-1:]
            seeks = oldest and oldest[0].state is None and oldest[0].action == ObjectDelta.ACTION_UPDATE
            assert count == (2 if seeks and connection.vendor != "mysql" else 1)
            assert [d.pk for d in page] == [d.pk for d in history[low:high]]
            assert [state(d.snapshot) for d in page] == [own[d.pk] for d in history[low:high]]
    assert state(record.history.with_snapshot()[:1][0].snapshot) == state(Record.objects.get())


def test_records_give_each_delta_its_moment_as_django_loads_it():
    record = changed_record(3)
    loaded = [(d.created_at, str(d.created_at)) for d in record.history.all()]
    assert [(r.created_at, str(r.created_at)) for r in record.history.records()] == loaded
    assert [(r.created_at, str(r.created_at)) for r in record.history[1:3].records()] == loaded[1:3]


@override_settings(USE_TZ=False, TIME_ZONE="America/Denver")
def test_records_give_each_delta_its_moment_as_django_loads_it_without_time_zones():
    record = changed_record(2)
    loaded = [d.created_at for d in record.history.all()]
    assert all(moment.tzinfo is None for moment in loaded)
    assert [r.created_at for r in record.history.records()] == loaded
    assert [r.created_at for r in Record.history.records()] == loaded
