"""A change and its deltas commit or roll back together (contract §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from revy import Context, EncodingError, RevyError
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.testapp.models import Author, Post, Record


@contextmanager
def refusing_inserts_into(model: Any) -> Iterator[None]:
    """Make the database layer fail every INSERT into ``model``'s table."""
    table = connection.ops.quote_name(model._meta.db_table)

    def refuse(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if f"INSERT INTO {table}" in sql:  # also inside a WITH ... INSERT statement
            raise DatabaseError(f"injected failure writing {table}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


def assert_nothing_recorded() -> None:
    assert not ObjectDelta.objects.exists()
    assert not AttributeDelta.objects.exists()
    assert not Revision.objects.exists()


# Inside a caller's transaction: the error marks it for rollback; nothing survives it.


@pytest.mark.django_db
@pytest.mark.parametrize("failing_table", [AttributeDelta, ObjectDelta])
def test_failed_delta_insert_rolls_back_the_create_in_a_callers_transaction(failing_table: Any) -> None:
    with (
        Context(),
        pytest.raises(DatabaseError, match="injected"),
        transaction.atomic(),
        refusing_inserts_into(failing_table),
    ):
        Record.objects.create(title="never")
    assert not Record.objects.exists()
    assert_nothing_recorded()


@pytest.mark.django_db
def test_failed_delta_insert_rolls_back_the_update_in_a_callers_transaction() -> None:
    record = Record.objects.create(title="kept")
    with Context(), pytest.raises(DatabaseError, match="injected"), transaction.atomic():
        record.title = "never"
        with refusing_inserts_into(AttributeDelta):
            record.save()
    assert Record.objects.get().title == "kept"
    assert_nothing_recorded()


@pytest.mark.django_db
def test_failed_delta_insert_rolls_back_the_delete_in_a_callers_transaction() -> None:
    author = Author.objects.create(name="kept")
    Post.objects.create(author=author, title="child")
    with (
        Context(),
        pytest.raises(DatabaseError, match="injected"),
        transaction.atomic(),
        refusing_inserts_into(AttributeDelta),
    ):
        author.delete()
    assert Author.objects.filter(name="kept").exists()
    assert Post.objects.filter(title="child").exists()
    assert_nothing_recorded()


@pytest.mark.django_db
def test_value_the_encoder_cannot_store_rolls_back_in_a_callers_transaction() -> None:
    record = Record.objects.create(title="kept")
    # Django stores str() of a set in a CharField; JSON has no set.
    record.title = {"not", "json"}
    with (
        Context(),
        pytest.raises(EncodingError, match=r"testapp\.Record\.title = "),
        transaction.atomic(),
    ):
        record.save()
    assert Record.objects.get().title == "kept"
    assert_nothing_recorded()


# In autocommit mode the tracked write is its own transaction.


@pytest.mark.django_db(transaction=True)
def test_failed_delta_insert_leaves_no_change_in_autocommit() -> None:
    record = Record.objects.create(title="kept")
    with Context():
        with refusing_inserts_into(AttributeDelta), pytest.raises(DatabaseError, match="injected"):
            Record.objects.create(title="never")
        record.title = "never"
        with refusing_inserts_into(AttributeDelta), pytest.raises(DatabaseError, match="injected"):
            record.save()
        with refusing_inserts_into(ObjectDelta), pytest.raises(DatabaseError, match="injected"):
            Record.objects.get(pk=record.pk).delete()
    assert list(Record.objects.values_list("title", flat=True)) == ["kept"]
    assert_nothing_recorded()


@pytest.mark.django_db(transaction=True)
def test_value_the_encoder_cannot_store_leaves_no_change_in_autocommit() -> None:
    with Context():
        with pytest.raises(EncodingError, match=r"testapp\.Record\.title = "):
            Record.objects.create(title=object())
        record = Record.objects.create(title="kept")
        record.title = {"not", "json"}
        with pytest.raises(EncodingError, match=r"testapp\.Record\.title = "):
            record.save()
    assert list(Record.objects.values_list("title", flat=True)) == ["kept"]
    assert ObjectDelta.objects.count() == 1  # the create of "kept"


# After a failure the instance still knows what the database holds.


@pytest.mark.django_db(transaction=True)
def test_save_after_a_failed_save_records_the_change_from_the_stored_value() -> None:
    record = Record.objects.create(title="stored", count=1)
    with Context():
        record.title = "attempt"
        record.count = 2
        with refusing_inserts_into(AttributeDelta), pytest.raises(DatabaseError):
            record.save()
        record.save()
    rows = {a.field_name: (a.old_value, a.new_value) for a in AttributeDelta.objects.all()}
    assert rows == {"title": ("stored", "attempt"), "count": (1, 2)}
    assert Record.objects.get().title == "attempt"


@pytest.mark.django_db(transaction=True)
def test_save_after_an_encoding_error_records_the_corrected_value() -> None:
    record = Record.objects.create(title="stored")
    with Context():
        record.title = {"not", "json"}
        with pytest.raises(EncodingError):
            record.save()
        record.title = "fixed"
        record.save()
    delta = AttributeDelta.objects.get()
    assert (delta.field_name, delta.old_value, delta.new_value) == ("title", "stored", "fixed")


@pytest.mark.django_db
def test_save_after_a_rolled_back_savepoint_records_the_change_again() -> None:
    record = Record.objects.create(title="stored")
    with Context():
        record.title = "attempt"
        with pytest.raises(DatabaseError), transaction.atomic(), refusing_inserts_into(AttributeDelta):
            record.save()
        record.save()
    delta = AttributeDelta.objects.get()
    assert (delta.old_value, delta.new_value) == ("stored", "attempt")


@pytest.mark.django_db(transaction=True)
def test_unsaved_actor_is_refused_and_leaves_no_change() -> None:
    with Context.via_actor(Author(name="never saved")), pytest.raises(RevyError, match="saved model instance"):
        Record.objects.create(title="never")
    assert not Record.objects.exists()
    assert_nothing_recorded()


@pytest.mark.django_db(transaction=True)
def test_create_retried_after_a_failure_is_recorded_as_a_create() -> None:
    record = Record(title="first try")
    with Context():
        with refusing_inserts_into(ObjectDelta), pytest.raises(DatabaseError):
            record.save()
        record.save()
    delta = ObjectDelta.objects.get()
    assert delta.action == ObjectDelta.ACTION_CREATE
    assert delta.content_id == str(Record.objects.get().pk)
    assert AttributeDelta.objects.get(field_name="title").new_value == "first try"


@pytest.mark.django_db(transaction=True)
def test_a_lazy_revision_made_in_a_transaction_that_rolled_back_is_made_again() -> None:
    with Context.via_revision(lambda: Revision.objects.create(description="lazy")):
        with pytest.raises(RuntimeError), transaction.atomic():
            Author.objects.create(name="gone")
            raise RuntimeError
        Author.objects.create(name="kept")
    delta = ObjectDelta.objects.get()
    assert delta.revision.description == "lazy"
    assert Revision.objects.count() == 1
