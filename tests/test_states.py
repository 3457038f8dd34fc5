"""The whole state an update stores when it wrote every field, and the snapshots read from it."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from revy import Context
from revy.contrib.django.models import ObjectDelta, ObjectSnapshot
from tests.testapp.models import Article, Author, Label, Organization, Post, Record, Review

pytestmark = pytest.mark.django_db


def fields(instance):
    return None if instance is None else {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.fields}


def snapshots_of(obj):
    deltas = ObjectDelta.objects.for_object(obj).order_by("pk").annotate(snapshot=ObjectSnapshot(type(obj)))
    return [(d.action, d.state is not None, fields(d.snapshot)) for d in deltas]


def test_saves_of_every_field_store_the_state_their_attribute_deltas_give():
    with Context():
        record = Record.objects.create(
            title="a", price=Decimal("1.50"), day=datetime.date(2020, 1, 2), data={"id": None, "k": [1]}, blob=b"\x00"
        )
        record.organization = Organization.objects.create(name="o")
        record.moment = datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
        record.save()
        record = Record.objects.get(pk=record.pk)  # every value as the database gives it back
        record.title, record.data = "b", None
        record.save()
        author = Author.objects.create(name="ann")
        Post.objects.create(author=author, title="p")
        author.delete()  # and its post, by revy's CASCADE
    for obj in (record, author, Post(pk=Post.history.get(action=ObjectDelta.ACTION_CREATE).content_id)):
        stored = snapshots_of(obj)
        # A create's and a delete's attribute deltas hold every field: they store no state.
        assert [has_state for action, has_state, _ in stored] == [
            action == ObjectDelta.ACTION_UPDATE for action, _, _ in stored
        ]
        ObjectDelta.objects.for_object(obj).update(state=None)
        assert snapshots_of(obj) == [(action, False, values) for action, _, values in stored]
    assert snapshots_of(record)[-1][2] == fields(Record.objects.get())


def test_writes_that_do_not_know_every_field_store_none_and_snapshots_fold_their_attribute_deltas():
    with Context():
        author = Author.objects.create(name="ann")
        review = Review.objects.create(author=author, score=1)
        review.score = 2
        review.save(update_fields=["score"])
        Review.objects.filter(pk=review.pk).update(score=F("score") + 1)
        review = Review.objects.only("pk", "score").get(pk=review.pk)  # the other fields deferred
        review.score = 4
        review.save()
        review.refresh_from_db()
        review.score = 5
        Review.objects.bulk_update([review], ["score"])
        Author.objects.filter(pk=author.pk).delete()  # revy's SET_NULL: the review's author
        article = Article.objects.create(title="t")
        article.labels.add(Label.objects.create(name="l"))
    assert [(action, has_state) for action, has_state, _ in snapshots_of(review)] == [
        (ObjectDelta.ACTION_CREATE, False),
        *[(ObjectDelta.ACTION_UPDATE, False)] * 5,
    ]
    assert [values["score"] for _, _, values in snapshots_of(review)] == [1, 2, 3, 4, 5, 5]
    assert snapshots_of(review)[-1][2] == fields(Review.objects.get())
    assert [has_state for _, has_state, _ in snapshots_of(article)] == [False, False]


def test_a_page_reads_stored_states_in_one_query_and_seeks_the_fold_below_an_update_that_stored_none():
    with Context():
        record = Record.objects.create(title="v0")
        for i in range(1, 6):
            record.title = f"v{i}"
            record.save(update_fields=["title"] if i == 3 else None)
    history = list(record.history.all())
    assert [d.state is None for d in history] == [False, False, True, False, False, True]  # the last: the create
    expected = [f"v{i}" for i in range(5, -1, -1)]
    # A second query when the fold at an update without state passes a state or starts below the page.
    for low, high, queries in ((0, 2, 1), (0, 3, 2), (1, 4, 2), (3, None, 1), (2, 3, 2), (0, None, 2), (1, 3, 2)):
        with CaptureQueriesContext(connection) as captured:
            page = list(record.history.with_snapshot()[low:high])
        assert [d.snapshot.title for d in page] == expected[low:high]
        assert len(captured) == (1 if connection.vendor == "mysql" else queries)


def test_as_of_reads_the_stored_state_in_one_query_and_the_attribute_deltas_in_a_second_without():
    with Context():
        record = Record.objects.create(title="v0", count=1)
        record.title = "v1"
        record.save()
        record.count = 2
        record.save(update_fields=["count"])
    stored, folded = list(record.history.all())[1:], list(record.history.all())[:1]
    for delta, queries, values in ((stored[0], 1, ("v1", 1)), (folded[0], 2, ("v1", 2))):
        with CaptureQueriesContext(connection) as captured:
            found = record.history.as_of(delta.created_at)
        assert (found.title, found.count) == values
        assert len(captured) == (1 if connection.vendor == "mysql" else queries)


def test_deleted_reads_each_deletes_state_or_else_its_own_attribute_deltas():
    with Context():
        record = Record.objects.create(title="a", price=Decimal("2.50"), data={"id": None}, blob=b"\x01")
        record.title = "b"
        record.save(update_fields=["title"])
        record.delete()
    stored = [fields(d.snapshot) for d in Record.history.deleted()]
    assert [values["title"] for values in stored] == ["b"]
    ObjectDelta.objects.update(state=None)  # as deltas recorded before states were
    assert [fields(d.snapshot) for d in Record.history.deleted()] == stored


def test_a_full_save_of_a_stale_instance_stores_the_row_it_wrote_and_every_read_agrees():
    """The state is the row as written; deltas without one fold their attribute deltas, on a page as alone."""
    with Context():
        record = Record.objects.create(title="A", count=0)
        Record.objects.filter(pk=record.pk).update(title="B")  # recorded; the instance still holds A
        record.count = 1
        record.save()  # writes title A back, which no attribute delta says
        record.count = 2
        record.save(update_fields=["count"])
    deltas = list(record.history.all())
    assert [d.state is not None for d in deltas] == [False, True, False, False]
    own = {
        d.pk: (d.snapshot.title, d.snapshot.count)
        for d in ObjectDelta.objects.for_object(record).annotate(snapshot=ObjectSnapshot(Record))
    }
    assert own[deltas[1].pk] == ("A", 1) == (Record.objects.get().title, 1)
    for low, high in ((0, None), (0, 1), (0, 2), (1, 3)):
        page = record.history.with_snapshot()[low:high]
        assert [(d.snapshot.title, d.snapshot.count) for d in page] == [own[d.pk] for d in deltas[low:high]]
    for delta in deltas:
        found = record.history.as_of(delta.created_at)
        assert (found.title, found.count) == own[delta.pk]
