"""What a tracked write costs in statements (contract §8), and that the cheap paths stay correct.

On PostgreSQL a change's object delta, its attribute deltas and (at the
first change of a scope) the revision go in one ``WITH ... INSERT``
statement; elsewhere they are one INSERT per table.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from revy import Context
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.testapp.models import Author, Post

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
REVY_TABLES = tuple(model._meta.db_table for model in (Revision, ObjectDelta, AttributeDelta))


def delta_statements(captured: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].upper().startswith(TRANSACTION_CONTROL)
        and any(t in q["sql"] for t in REVY_TABLES)
    ]


def one_statement_per_change() -> bool:
    return connection.vendor == "postgresql"


def writes(captured: CaptureQueriesContext) -> list[str]:
    """Every statement but transaction control and content type look-ups: Django's own and revy's.

    Counted whole, not by table: with psycopg's server-side binding Django
    logs its statement as it gave it, before revy's wrapper folded the deltas in.
    """
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].upper().startswith(TRANSACTION_CONTROL) and "django_content_type" not in q["sql"]
    ]


@pytest.mark.django_db
def test_first_change_of_a_scope_writes_revision_and_deltas_in_as_few_statements_as_the_backend_allows() -> None:
    Author.objects.create(name="warm")  # content types cached
    with Context.via_revision_description("import"), CaptureQueriesContext(connection) as captured:
        author = Author.objects.create(name="ann")

    assert len(writes(captured)) == (1 if one_statement_per_change() else 1 + 3)
    revision = Revision.objects.get()
    assert revision.description == "import"
    delta = ObjectDelta.objects.get(revision=revision)
    assert (delta.action, delta.content_id) == (ObjectDelta.ACTION_CREATE, str(author.pk))
    assert {(a.field_name, a.new_value) for a in delta.attribute_deltas.all()} == {("id", author.pk), ("name", "ann")}
    assert set(AttributeDelta.objects.values_list("revision_id", flat=True)) == {revision.pk}


@pytest.mark.django_db
def test_later_changes_of_the_scope_reuse_its_revision() -> None:
    with Context():
        author = Author.objects.create(name="ann")
        author.name = "bea"
        with CaptureQueriesContext(connection) as captured:
            author.save()
        author.delete()

    assert len(writes(captured)) == (1 if one_statement_per_change() else 1 + 2)
    assert Revision.objects.count() == 1
    assert list(ObjectDelta.objects.order_by("pk").values_list("action", flat=True)) == [
        ObjectDelta.ACTION_CREATE,
        ObjectDelta.ACTION_UPDATE,
        ObjectDelta.ACTION_DELETE,
    ]
    update = ObjectDelta.objects.get(action=ObjectDelta.ACTION_UPDATE)
    assert [(a.field_name, a.old_value, a.new_value) for a in update.attribute_deltas.all()] == [("name", "ann", "bea")]


@pytest.mark.django_db
def test_revision_created_in_a_rolled_back_transaction_is_not_reused() -> None:
    with Context():
        with transaction.atomic():
            Author.objects.create(name="gone")
            transaction.set_rollback(True)
        Author.objects.create(name="kept")

    revision = Revision.objects.get()
    assert [d.content_id for d in ObjectDelta.objects.filter(revision=revision)] == [
        str(Author.objects.get(name="kept").pk)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("children", [10, 100])
def test_cascade_costs_the_same_statements_whatever_the_number_of_children(children: int) -> None:
    author = Author.objects.create(name="ann")
    Post.objects.bulk_create([Post(author=author, title=f"post {i}") for i in range(children)])
    with Context():
        Author.objects.create(name="revision exists")
        with CaptureQueriesContext(connection) as captured:
            Author.objects.get(pk=author.pk).delete()

    # The deletion's object deltas in one INSERT, their attribute deltas in another.
    assert len(delta_statements(captured)) == 2
    assert ObjectDelta.objects.filter(action=ObjectDelta.ACTION_DELETE).count() == children + 1
    titles = AttributeDelta.objects.filter(field_name="title", object_delta__action=ObjectDelta.ACTION_DELETE)
    assert sorted(titles.values_list("old_value", flat=True)) == sorted(f"post {i}" for i in range(children))
    for delta in ObjectDelta.objects.filter(action=ObjectDelta.ACTION_DELETE):
        assert {a.content_id for a in delta.attribute_deltas.all()} == {delta.content_id}
