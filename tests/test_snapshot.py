import datetime
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from revy import Context
from revy.contrib.django.models import AttributeDelta, ObjectDelta, ObjectSnapshot
from tests.testapp.models import Author, Category, Organization, Post, Record, Secret, Tag

pytestmark = pytest.mark.django_db


def snapshots(model, **filters):
    deltas = ObjectDelta.objects.for_model(model).filter(**filters)
    return [d.snapshot for d in deltas.annotate(snapshot=ObjectSnapshot(model)).order_by("pk")]


def full_record(**overrides):
    values = dict(
        title="full",
        body="long text",
        count=-7,
        big=2**62,
        ratio=0.25,
        price=Decimal("1234.5678"),
        active=False,
        flag=True,
        day=datetime.date(2024, 2, 29),
        moment=datetime.datetime(2024, 2, 29, 12, 30, 1, 123456, tzinfo=datetime.UTC),
        clock=datetime.time(23, 59, 58, 999999),
        span=datetime.timedelta(days=-1, microseconds=1),
        token=uuid.uuid4(),
        data={"a": [1, 2.5, None, "x"], "b": {"c": True}},
        blob=b"\x00\xffbin",
        email="a@example.com",
        slug="a-slug",
        ip="2001:db8::1",
    )
    related = {
        "category": lambda: Category.objects.create(name="c"),
        "organization": lambda: Organization.objects.create(name=f"org-{uuid.uuid4()}"),
        "tag": lambda: Tag.objects.create(code="t1"),
    }
    values.update({name: make() for name, make in related.items() if name not in overrides})
    values.update(overrides)
    return values


def test_snapshot_types_every_field_as_loaded_from_the_database():
    # A CREATE and a DELETE are read from their own attribute deltas, an update field by field: all three.
    with Context():
        record = Record.objects.create(**full_record())
    states = [Record.objects.get(pk=record.pk)]
    changed = full_record(
        category=None,
        organization=Organization.objects.create(name="other"),
        title="changed", count=8, price=Decimal("-0.0001"), active=True, flag=None, day=datetime.date(1999, 12, 31),
        moment=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC), clock=datetime.time(0, 0), data=[1, {"x": None}],
        span=datetime.timedelta(seconds=3), token=uuid.uuid4(), blob=b"other", ip="10.0.0.1", tag=None,
    )
    with Context():
        for name, value in changed.items():
            setattr(record, name, value)
        record.save()
        states.append(Record.objects.get(pk=record.pk))
        record.delete()
    states.append(states[-1])
    assert ObjectDelta.objects.for_model(Record).count() == 3
    for snapshot, loaded in zip(snapshots(Record), states, strict=True):
        assert isinstance(snapshot, Record)
        for field in Record._meta.concrete_fields:
            expected = getattr(loaded, field.attname)
            actual = getattr(snapshot, field.attname)
            assert type(actual) is type(expected), field.name
            assert actual == expected, field.name
        assert snapshot.moment.tzinfo is not None


def test_snapshot_follows_each_delta_and_a_delete_gives_the_state_before_it():
    with Context():
        author = Author.objects.create(name="ann")
        author.name = "anne"
        author.save()
        author.delete()
    assert [s.name for s in snapshots(Author)] == ["ann", "anne", "anne"]


def test_rows_of_another_model_get_none():
    with Context():
        Author.objects.create(name="ann")
        Category.objects.create(name="untracked")
        Secret.objects.create(code="s", value="v")
    assert [type(s) for s in snapshots(Secret)] == [Secret]
    rows = ObjectDelta.objects.annotate(snapshot=ObjectSnapshot(Author)).order_by("pk")
    assert [type(d.snapshot) for d in rows] == [Author, type(None)]


def test_one_query_for_five_hundred_snapshots():
    with Context():
        authors = [Author.objects.create(name=f"a{i}") for i in range(250)]
        for author in authors:
            author.name += "!"
            author.save()
    deltas = ObjectDelta.objects.for_model(Author)
    assert deltas.count() == 500
    ContentType.objects.clear_cache()
    with CaptureQueriesContext(connection) as queries:
        rows = list(deltas.annotate(snapshot=ObjectSnapshot(Author)))
        names = {row.snapshot.name for row in rows}
    assert len(queries) == 1
    assert len(rows) == 500 and len(names) == 500


def test_snapshot_of_a_delete_saves_back_under_the_same_pk():
    with Context():
        record = Record.objects.create(**full_record())
        pk = record.pk
        record.delete()
    delta = ObjectDelta.objects.for_model(Record).deletes().annotate(snapshot=ObjectSnapshot(Record)).get()
    with Context():
        delta.snapshot.save()
    restored = Record.objects.get(pk=pk)
    assert bytes(restored.blob) == b"\x00\xffbin"
    assert restored.data == {"a": [1, 2.5, None, "x"], "b": {"c": True}}
    # The undelete is recorded like any create.
    assert ObjectDelta.objects.for_object(restored).first().action == ObjectDelta.ACTION_CREATE


def test_snapshot_with_a_pk_default_updates_when_the_row_exists_and_inserts_when_gone():
    with Context():
        org = Organization.objects.create(name="acme")
        org.name = "acme inc"
        org.save()
    first = snapshots(Organization)[0]
    with Context():
        first.save()  # a rollback: UPDATE of the existing row
    assert list(Organization.objects.values_list("pk", "name")) == [(org.pk, "acme")]
    with Context():
        Organization.objects.get().delete()
    with Context():
        snapshots(Organization, action=ObjectDelta.ACTION_DELETE)[0].save()  # an undelete: INSERT
    assert list(Organization.objects.values_list("pk", "name")) == [(org.pk, "acme")]


def test_a_plain_rollback_save_is_recorded():
    with Context():
        author = Author.objects.create(name="ann")
        author.name = "bob"
        author.save()
    with Context():
        snapshots(Author)[0].save()
    newest = ObjectDelta.objects.for_object(author).first()
    assert newest.action == ObjectDelta.ACTION_UPDATE
    assert AttributeDelta.objects.filter(object_delta=newest, field_name="name").get().new_value == "ann"


def test_excluded_fields_take_their_defaults():
    with Context():
        secret = Secret.objects.create(code="s", value="v", hashed="h")
    (snapshot,) = snapshots(Secret)
    assert (snapshot.code, snapshot.value, snapshot.hashed) == ("s", "v", "")
    assert secret.hashed == "h"


def test_fields_without_attribute_delta_take_their_default_and_unknown_ones_are_ignored():
    with Context():
        record = Record.objects.create(title="t", count=5)
    delta = ObjectDelta.objects.for_object(record).get()
    # As if count came to the model after the delta, and title left it: in the stored state...
    ObjectDelta.objects.filter(pk=delta.pk).update(state={"id": record.pk, "gone": "t"})
    (snapshot,) = snapshots(Record)
    assert (snapshot.pk, snapshot.count, snapshot.title) == (record.pk, 0, "")
    # ... and in the attribute deltas, read for a delta that stored no state.
    ObjectDelta.objects.filter(pk=delta.pk).update(state=None)
    AttributeDelta.objects.filter(object_delta=delta, field_name="count").delete()
    AttributeDelta.objects.filter(object_delta=delta, field_name="title").update(field_name="gone")
    (snapshot,) = snapshots(Record)
    assert (snapshot.pk, snapshot.count, snapshot.title) == (record.pk, 0, "")


def test_with_snapshot_resolves_rows_of_mixed_models_in_a_query_per_model():
    with Context():
        author = Author.objects.create(name="ann")
        Post.objects.create(author=author, title="p")
        Category.objects.create(name="untracked")
        author.name = "anne"
        author.save()
    ContentType.objects.get_for_model(Author)
    ContentType.objects.get_for_model(Post)
    with CaptureQueriesContext(connection) as queries:
        rows = list(ObjectDelta.objects.with_snapshot().order_by("pk"))
    assert len(queries) == 3
    assert [(type(r.snapshot).__name__, str(r.snapshot.pk)) for r in rows] == [
        ("Author", str(author.pk)),
        ("Post", rows[1].content_id),
        ("Author", str(author.pk)),
    ]
    assert [getattr(r.snapshot, "name", None) for r in rows] == ["ann", None, "anne"]


def test_seed_readme_rollback_of_a_deleted_user():
    with Context():
        user = User.objects.create(username="bob", password="secret-hash", email="b@example.com")
        user_pk = user.pk
        user.delete()
    object_delta = (
        ObjectDelta.objects.filter(
            action=ObjectDelta.ACTION_DELETE,
            content_type=ContentType.objects.get_for_model(User),
            content_id=user_pk,
        )
        .annotate(snapshot=ObjectSnapshot(User))
        .order_by("-pk")
        .first()
    )
    assert isinstance(object_delta.snapshot, User)
    object_delta.snapshot.save()
    restored = User.objects.get(pk=user_pk)
    assert (restored.username, restored.email, restored.password) == ("bob", "b@example.com", "")


def test_undelete_restores_relations_when_the_target_still_exists():
    with Context():
        author = Author.objects.create(name="ann")
        post = Post.objects.create(author=author, title="p")
        post_pk = post.pk
        post.delete()
    (snapshot,) = snapshots(Post, action=ObjectDelta.ACTION_DELETE)
    with Context():
        snapshot.save()
    assert Post.objects.get(pk=post_pk).author == author
    assert list(author.posts.all()) == [snapshot]


def test_undelete_of_a_taken_unique_value_fails_cleanly():
    with Context():
        author = Author.objects.create(name="ann")
        author_pk = author.pk
        author.delete()
        Author.objects.create(name="ann")
    (snapshot,) = snapshots(Author, action=ObjectDelta.ACTION_DELETE)
    deltas_before = ObjectDelta.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic(), Context():
        snapshot.save()
    assert list(Author.objects.values_list("name", flat=True)) == ["ann"]
    assert not Author.objects.filter(pk=author_pk).exists()
    assert ObjectDelta.objects.count() == deltas_before


def test_a_row_from_before_tracking_without_baseline_has_a_snapshot_once_a_save_wrote_every_field():
    author = Author.objects.create(name="untracked then")
    with Context():
        author.name = "renamed"
        author.save(update_fields=["name"])
    assert snapshots(Author) == [None]  # one field known: no whole object
    with Context():
        author.name = "tracked now"
        author.save()
    assert [s and (s.pk, s.name) for s in snapshots(Author)] == [None, (author.pk, "tracked now")]


@pytest.mark.django_db
def test_saving_a_snapshot_over_its_live_row_records_only_what_it_puts_back():
    with Context():
        author = Author.objects.create(name="first")
        author.name = "second"
        author.save()
    created = ObjectDelta.objects.for_object(author).creates().annotate(snapshot=ObjectSnapshot(Author)).get()
    with Context():
        created.snapshot.save()
    rollback = ObjectDelta.objects.for_object(author).order_by("-pk").first()
    assert rollback.action == ObjectDelta.ACTION_UPDATE
    assert [(a.field_name, a.old_value, a.new_value) for a in rollback.attribute_deltas.all()] == [
        ("name", "second", "first")
    ]
