"""A change and its deltas commit or roll back together (contract §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models.signals import post_delete
from django.test import override_settings

from revy import Context, EncodingError, InvalidActor
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.modes import in_either_mode
from tests.testapp.models import Author, Organization, Post, Record


@contextmanager
def refusing_inserts_into(model: Any) -> Iterator[None]:
    """Make every INSERT into ``model``'s table fail.

    The database itself refuses the rows (a trigger), also inside the
    statement by which PostgreSQL writes a save with its deltas. MariaDB
    would commit an open transaction to create a trigger, and writes every
    delta statement on its own: there the driver call is refused instead.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "mysql":

        def refuse(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            if f"INSERT INTO {table}" in sql:
                raise DatabaseError(f"injected failure writing {table}")
            return execute(sql, params, many, context)

        with connection.execute_wrapper(refuse):
            yield
        return
    create, drop = {
        "sqlite": (
            [f"CREATE TRIGGER revy_refuse BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END"],
            ["DROP TRIGGER revy_refuse"],
        ),
        "postgresql": (
            [
                "CREATE FUNCTION revy_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
                f"CREATE TRIGGER revy_refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION revy_refuse()",
            ],
            [f"DROP TRIGGER revy_refuse ON {table}", "DROP FUNCTION revy_refuse()"],
        ),
    }[connection.vendor]
    with connection.cursor() as cursor:
        for sql in create:
            cursor.execute(sql)
    try:
        yield
    finally:
        # Created inside a transaction that is failing: its rollback drops the trigger.
        if not (connection.in_atomic_block and connection.needs_rollback):
            with connection.cursor() as cursor:
                for sql in drop:
                    cursor.execute(sql)


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


# An encoder that knows nothing beyond plain JSON cannot store a Decimal, which Django stores.
STRICT = override_settings(REVY_JSON_ENCODER="tests.test_encoding.StrictEncoder")


@pytest.mark.django_db
@STRICT
def test_value_the_encoder_cannot_store_rolls_back_in_a_callers_transaction() -> None:
    record = Record.objects.create(title="kept")
    record.price = Decimal("2.5")
    with (
        Context(),
        pytest.raises(EncodingError, match=r"testapp\.Record\.price = "),
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
@STRICT
def test_value_the_encoder_cannot_store_leaves_no_change_in_autocommit() -> None:
    record = Record.objects.create(title="kept")
    with Context():
        with pytest.raises(EncodingError, match=r"testapp\.Record\.price = "):
            Record.objects.create(title="never", price=Decimal("1"))
        record.price = Decimal("2.5")
        with pytest.raises(EncodingError, match=r"testapp\.Record\.price = "):
            record.save()
    assert list(Record.objects.values_list("title", "price")) == [("kept", Decimal("0"))]
    assert_nothing_recorded()


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
        record.title = "attempt"
        record.price = Decimal("2.5")
        with STRICT, pytest.raises(EncodingError):
            record.save()
        record.title = "fixed"
        record.price = Decimal("0")
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
    with Context.via_actor(Author(name="never saved")), pytest.raises(InvalidActor, match="saved model instance"):
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


# In autocommit on PostgreSQL a save and its deltas are one statement: what it records and what it undoes.


@pytest.mark.django_db(transaction=True)
def test_saves_in_autocommit_share_the_revision_the_first_one_creates() -> None:
    with Context.via_revision_description("one request"):
        record = Record.objects.create(title="a")
        organization = Organization.objects.create(name="uuid keyed")
        record.title = "b"
        record.save()
    with Context():
        record.title = "c"
        record.save()

    first, second = Revision.objects.order_by("pk")
    assert first.description == "one request"
    deltas = list(ObjectDelta.objects.order_by("pk"))
    assert [(d.revision_id, d.action, d.content_id) for d in deltas] == [
        (first.pk, ObjectDelta.ACTION_CREATE, str(record.pk)),
        (first.pk, ObjectDelta.ACTION_CREATE, str(organization.pk)),
        (first.pk, ObjectDelta.ACTION_UPDATE, str(record.pk)),
        (second.pk, ObjectDelta.ACTION_UPDATE, str(record.pk)),
    ]
    ids = AttributeDelta.objects.filter(field_name="id").order_by("pk").values_list("new_value", flat=True)
    assert list(ids) == [record.pk, str(organization.pk)]
    assert all(a.object_delta.revision_id == a.revision_id for a in AttributeDelta.objects.all())


@pytest.mark.django_db(transaction=True)
def test_saving_an_instance_whose_row_was_deleted_meanwhile_records_its_create() -> None:
    record = Record.objects.create(title="gone")
    Record.objects.filter(pk=record.pk).delete()  # outside any Context: not recorded
    with Context():
        record.title = "back"
        record.save()  # Django's UPDATE finds no row, so it INSERTs it
    delta = ObjectDelta.objects.get()
    assert (delta.action, delta.content_id) == (ObjectDelta.ACTION_CREATE, str(record.pk))
    assert AttributeDelta.objects.get(field_name="title").new_value == "back"
    assert Record.objects.get().title == "back"


@pytest.mark.django_db(transaction=True)
def test_a_save_the_database_refuses_records_nothing_in_autocommit() -> None:
    with Context():
        Author.objects.create(name="taken")
        with pytest.raises(IntegrityError):
            Author.objects.create(name="taken")
        author = Author.objects.create(name="free")
        author.name = "taken"
        with pytest.raises(IntegrityError):
            author.save()
    assert list(ObjectDelta.objects.values_list("action", flat=True)) == [ObjectDelta.ACTION_CREATE] * 2
    assert sorted(AttributeDelta.objects.filter(field_name="name").values_list("new_value", flat=True)) == [
        "free",
        "taken",
    ]


@in_either_mode
def test_deleting_an_instance_whose_row_is_gone_still_records_its_delete(mode: str) -> None:
    record = Record.objects.create(title="gone")
    pk = record.pk
    Record.objects.filter(pk=pk).delete()  # outside any Context: not recorded
    with Context():
        record.delete()
    delta = ObjectDelta.objects.get()
    assert (delta.action, delta.content_id) == (ObjectDelta.ACTION_DELETE, str(pk))
    assert AttributeDelta.objects.get(object_delta=delta, field_name="title").old_value == "gone"


@in_either_mode
def test_deletes_share_the_revision_the_first_one_creates(mode: str) -> None:
    first, second = Author.objects.create(name="first"), Author.objects.create(name="second")
    pks = sorted(str(author.pk) for author in (first, second))
    with Context.via_revision_description("clean up"):
        first.delete()
        second.delete()
    revision = Revision.objects.get()
    assert revision.description == "clean up"
    assert sorted(ObjectDelta.objects.filter(revision=revision).values_list("content_id", flat=True)) == pks
    assert AttributeDelta.objects.filter(revision=revision, field_name="name").count() == 2


@in_either_mode
def test_a_deletion_retried_after_a_failure_in_the_same_atomic_is_recorded(mode: str) -> None:
    author = Author.objects.create(name="retried")
    Post.objects.create(author=author, title="child")
    attempts: list[int] = []

    def fail_the_first_attempt(sender: Any, instance: Author, **kwargs: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise DatabaseError("first attempt fails")

    @transaction.atomic  # one Atomic object, entered again by each call, as a retry loop does
    def remove(author: Author) -> None:
        author.delete()

    post_delete.connect(fail_the_first_attempt, sender=Author, dispatch_uid="fail-first")
    try:
        with Context():
            with pytest.raises(DatabaseError):
                remove(author)
            remove(author)
    finally:
        post_delete.disconnect(sender=Author, dispatch_uid="fail-first")

    assert not Author.objects.exists() and not Post.objects.exists()
    deleted = sorted(
        ObjectDelta.objects.filter(action=ObjectDelta.ACTION_DELETE).values_list("content_type__model", flat=True)
    )
    assert deleted == ["author", "post"]
