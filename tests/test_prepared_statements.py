"""REVY_PREPARED_STATEMENTS: on PostgreSQL a write's statement is prepared once per connection.

The statement that carries a change and its deltas is PREPAREd on the
connection's first use of it and EXECUTEd afterwards. Elsewhere the setting
changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from revy import Context
from revy.contrib.django import writer
from revy.contrib.django.checks import check_settings
from revy.contrib.django.models import AttributeDelta, ObjectDelta
from tests.test_encoding import CASES
from tests.testapp.models import Author, Record

pytestmark = pytest.mark.django_db


def postgresql_only(test: Any) -> Any:
    """A test of PostgreSQL's prepared statements, run on a connection of its own (a server session)."""
    test = pytest.mark.usefixtures("new_connection")(pytest.mark.django_db(transaction=True)(test))
    return pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PREPARE is PostgreSQL's; elsewhere the setting changes nothing"
    )(test)


@pytest.fixture
def new_connection() -> None:
    connection.close()  # prepared statements last as long as the session: start one


@pytest.fixture(autouse=True)
def prepared_statements(settings: Any) -> None:
    settings.REVY_PREPARED_STATEMENTS = True


def prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'revy\\_%%'")
        return {name for (name,) in cursor.fetchall()}


def executed(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split("(")[0] for q in captured.captured_queries if q["sql"].startswith("EXECUTE ")]


@pytest.mark.parametrize(("field_name", "value"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_values_written_through_a_prepared_statement_are_exact(field_name: str, value: Any) -> None:
    with Context():
        record = Record.objects.create(title="before")
        setattr(record, field_name, value)
        record.save()

    assert getattr(Record.objects.get(pk=record.pk), field_name) == value
    delta = AttributeDelta.objects.filter(field_name=field_name).latest("pk")
    assert Record._meta.get_field(field_name).to_python(delta.new_value) == value


@postgresql_only
def test_each_statement_is_prepared_once_and_executed_by_every_write() -> None:
    with Context():
        Author.objects.create(name="warm")  # the scope's revision: a statement of its own shape
        with CaptureQueriesContext(connection) as first:
            ann = Author.objects.create(name="ann")
        with CaptureQueriesContext(connection) as second:
            bea = Author.objects.create(name="bea")
        ann.name = "anne"
        ann.save()
        bea_pk = bea.pk
        bea.delete()

    (create,) = executed(first)
    assert executed(second) == [create]
    assert create.removeprefix("EXECUTE ") in prepared_names()
    assert len(prepared_names()) == 4  # create with a revision, create, update, delete
    assert [(d.action, d.content_id) for d in ObjectDelta.objects.order_by("pk")][1:] == [
        (ObjectDelta.ACTION_CREATE, str(ann.pk)),
        (ObjectDelta.ACTION_CREATE, str(bea_pk)),
        (ObjectDelta.ACTION_UPDATE, str(ann.pk)),
        (ObjectDelta.ACTION_DELETE, str(bea_pk)),
    ]
    assert AttributeDelta.objects.get(field_name="name", new_value="anne").old_value == "ann"


@postgresql_only
def test_a_new_connection_prepares_again() -> None:
    with Context():
        Author.objects.create(name="ann")
        connection.close()
        Author.objects.create(name="bea")

    assert len(prepared_names()) == 1
    assert sorted(AttributeDelta.objects.filter(field_name="name").values_list("new_value", flat=True)) == [
        "ann",
        "bea",
    ]


@postgresql_only
def test_a_statement_prepared_in_a_rolled_back_transaction_is_still_executed() -> None:
    with Context():
        Author.objects.create(name="warm")
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            Author.objects.create(name="lost")
            1 / 0  # noqa: B018
        names = prepared_names()
        with CaptureQueriesContext(connection) as captured:
            Author.objects.create(name="kept")

    (create,) = executed(captured)
    assert create.removeprefix("EXECUTE ") in names  # prepared by the rolled-back create
    assert prepared_names() == names
    assert sorted(AttributeDelta.objects.filter(field_name="name").values_list("new_value", flat=True)) == [
        "kept",
        "warm",
    ]


@postgresql_only
@override_settings(REVY_PREPARED_STATEMENTS=False)
def test_off_by_default_the_statement_is_sent_whole() -> None:
    with Context(), CaptureQueriesContext(connection) as captured:
        Author.objects.create(name="ann")

    assert not executed(captured) and not prepared_names()
    assert captured.captured_queries[-1]["sql"].startswith("WITH revy_change AS (INSERT ")


@override_settings(REVY_PREPARED_STATEMENTS="yes")
def test_a_setting_that_is_not_a_boolean_is_reported() -> None:
    (error,) = check_settings()
    assert error.id == "revy.E005"
    assert "REVY_PREPARED_STATEMENTS must be True or False, not 'yes'" in error.msg


@postgresql_only
def test_a_session_met_again_through_a_new_wrapper_is_not_prepared_twice() -> None:
    with Context():
        Author.objects.create(name="warm")
        Author.objects.create(name="ann")
        # A pool that hands Django a new wrapper of the same server session at every checkout.
        writer._prepared.clear()
        with CaptureQueriesContext(connection) as captured:
            Author.objects.create(name="bea")

    (create,) = executed(captured)
    assert create.removeprefix("EXECUTE ") in prepared_names()
    assert AttributeDelta.objects.filter(field_name="name", new_value="bea").exists()
