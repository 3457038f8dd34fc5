"""``manage.py revy_history``: one object's history as a table."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from revy import Context
from tests.testapp.models import Author

pytestmark = pytest.mark.django_db


def history_of(*args: str) -> list[str]:
    out = StringIO()
    call_command("revy_history", *args, stdout=out)
    return out.getvalue().splitlines()


def test_prints_each_change_field_by_field_with_its_actor_newest_first() -> None:
    with Context.as_disabled():
        alice = User.objects.create(username="alice")
    with Context.via_actor(alice), Context.via_revision_description("Sign-up"):
        ann = Author.objects.create(name="ann")
    with Context.via_object_delta_description("Typo"):
        ann.name = "Ann"
        ann.save()
    lines = history_of("testapp.Author", str(ann.pk))
    assert lines[0] == f"testapp.Author {ann.pk}: Ann"
    assert lines[1].split() == ["when", "revision", "action", "field", "old", "new", "by"]
    update, created_id, created_name = lines[2:]
    assert update.split()[3:] == ["update", "name", '"ann"', '"Ann"', "the", "system:", "Typo"]
    assert "Sign-up" in created_id and "create" in created_id and created_id.endswith("alice")
    assert created_name.split() == ["name", "-", '"ann"', "alice"]
    # Columns line up.
    assert update.index('"ann"') == created_name.index("-")


def test_prints_a_deleted_object_and_a_deleted_actor() -> None:
    with Context.as_disabled():
        leaver = User.objects.create(username="leaver")
    with Context.via_actor(leaver):
        ann = Author.objects.create(name="ann")
        pk = ann.pk
        ann.delete()
    with Context.as_disabled():
        leaver.delete()
    lines = history_of("testapp.Author", str(pk))
    assert lines[0] == f"testapp.Author {pk}: (deleted)"
    assert lines[2].split()[3:6] == ["delete", "id", str(pk)]
    assert lines[2].endswith("leaver (deleted)")


def test_an_object_without_history_says_so() -> None:
    assert history_of("testapp.Author", "12345") == ["testapp.Author 12345: no history recorded."]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope.Model", "1"), "app_label.Model"),
        (("testapp.Category", "1"), "not tracked"),
        (("testapp.Author", "x"), "not a primary key"),
    ],
)
def test_refuses_bad_arguments_with_a_clear_message(args: tuple[str, str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("revy_history", *args)
