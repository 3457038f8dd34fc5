"""Actors that outlive their rows, and what changed: ``delta.changes`` and ``diff()``."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from revy import Context, DifferentObjects, RevyError
from revy.contrib.django.actors import DeletedActor
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.testapp.models import Author, Organization, Record

pytestmark = pytest.mark.django_db


def deleted_user(username: str = "leaver") -> tuple[User, int]:
    with Context.as_disabled():
        user = User.objects.create(username=username)
    return user, user.pk


def test_every_delta_keeps_its_actors_label_at_write_time() -> None:
    user, _ = deleted_user("alice")
    with Context.via_actor(user):
        Author.objects.create(name="ann")
    assert {d.actor_label for d in ObjectDelta.objects.all()} == {"alice"}
    assert {d.actor_label for d in AttributeDelta.objects.all()} == {"alice"}


def test_system_deltas_have_no_label() -> None:
    with Context():
        Author.objects.create(name="ann")
    assert ObjectDelta.objects.get().actor_label == ""


def label_with_email(actor: object) -> str:
    return f"{actor} <{getattr(actor, 'email', '')}>"


@override_settings(REVY_ACTOR_LABEL="tests.test_actors_and_diffs.label_with_email")
def test_actor_label_is_configurable() -> None:
    with Context.as_disabled():
        user = User.objects.create(username="alice", email="a@example.com")
    with Context.via_actor(user):
        Author.objects.create(name="ann")
    assert ObjectDelta.objects.get().actor_label == "alice <a@example.com>"


def test_deleted_actor_is_told_apart_from_the_system_and_keeps_its_label() -> None:
    user, pk = deleted_user()
    with Context.via_actor(user):
        Author.objects.create(name="ann")
    with Context():
        Author.objects.create(name="bob")
    with Context.as_disabled():
        user.delete()
    by_leaver, by_system = ObjectDelta.objects.order_by("pk")
    assert by_leaver.actor is None  # Django's generic key: the row is gone
    assert by_leaver.actor_or_deleted == DeletedActor(by_leaver.actor_content_type_id, str(pk), "leaver")
    assert str(by_leaver.actor_or_deleted) == "leaver"
    assert by_system.actor_or_deleted is None


def test_revision_actors_keep_a_deleted_actor() -> None:
    user, pk = deleted_user()
    alive, _ = deleted_user("alive")
    with Context():
        with Context.via_actor(user):
            ann = Author.objects.create(name="ann")
        with Context.via_actor(alive):
            ann.name = "bea"
            ann.save()
        Author.objects.create(name="system's")
    with Context.as_disabled():
        user.delete()
    actors = Revision.objects.get().actors()
    assert len(actors) == 3
    assert alive in actors and None in actors
    [gone] = [a for a in actors if isinstance(a, DeletedActor)]
    assert (gone.pk, gone.label) == (str(pk), "leaver")


def test_by_actor_finds_the_deltas_of_a_deleted_actor() -> None:
    user, _ = deleted_user()
    with Context.via_actor(user):
        Author.objects.create(name="ann")
    with Context():
        Author.objects.create(name="bob")
    with Context.as_disabled():
        user.delete()
    [gone] = Revision.objects.order_by("pk").first().actors()
    assert [d.actor_label for d in ObjectDelta.objects.by_actor(gone)] == ["leaver"]
    assert AttributeDelta.objects.by_actor(gone).count() == 2
    assert Revision.objects.by_actor(gone).count() == 1
    assert ObjectDelta.objects.by_actor(None).count() == 1


def test_by_actor_refuses_an_instance_without_pk() -> None:
    with pytest.raises(RevyError, match="DeletedActor"):
        ObjectDelta.objects.by_actor(User(username="never saved"))


def test_actor_with_a_uuid_key_is_kept_after_deletion() -> None:
    with Context():
        org = Organization.objects.create(name="acme")
    with Context.via_actor(org):
        Author.objects.create(name="ann")
    with Context.as_disabled():
        org_pk = org.pk
        org.delete()
    delta = ObjectDelta.objects.for_model(Author).get()
    assert delta.actor_or_deleted.pk == str(org_pk)
    assert delta.actor_or_deleted.label == f"Organization object ({org_pk})"


# delta.changes and diff()


def test_changes_are_typed_as_the_model_loads_them() -> None:
    token = uuid.uuid4()
    with Context():
        record = Record.objects.create(title="a", price=Decimal("1.50"), day=datetime.date(2026, 1, 2), token=token)
    with Context():
        record.price = Decimal("2.25")
        record.day = datetime.date(2026, 2, 3)
        record.save()
    assert record.history.first().changes == {
        "price": (Decimal("1.5000"), Decimal("2.2500")),
        "day": (datetime.date(2026, 1, 2), datetime.date(2026, 2, 3)),
    }
    created = record.history.last().changes
    assert created["token"] == (None, token)
    assert created["title"] == (None, "a")


def test_changes_of_a_delete_are_the_values_it_removed() -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        pk = ann.pk
        ann.delete()
    assert ObjectDelta.objects.deletes().get().changes == {"id": (pk, None), "name": ("ann", None)}


def test_changes_of_a_prefetched_page_cost_no_query(django_assert_num_queries) -> None:
    with Context():
        ann = Author.objects.create(name="ann")
    for name in ("bea", "cat"):
        with Context():
            ann.name = name
            ann.save()
    with django_assert_num_queries(2):
        names = [d.changes["name"] for d in ann.history.prefetch_related("attribute_deltas")]
    assert names == [("bea", "cat"), ("ann", "bea"), (None, "ann")]


def test_diff_between_two_versions_lists_the_fields_that_differ_typed(django_assert_num_queries) -> None:
    with Context():
        record = Record.objects.create(title="a", count=1, price=Decimal("1"))
    with Context():
        record.title = "b"
        record.save()
    with Context():
        record.count = 2
        record.price = Decimal("3")
        record.save()
    first, _, last = record.history.order_by("pk")
    with django_assert_num_queries(1):
        assert first.diff(last) == {
            "title": ("a", "b"),
            "count": (1, 2),
            "price": (Decimal("1.0000"), Decimal("3.0000")),
        }
    assert last.diff(first)["count"] == (2, 1)
    assert first.diff(first) == {}


def test_diff_refuses_deltas_of_two_objects() -> None:
    with Context():
        Author.objects.create(name="ann")
        Author.objects.create(name="bob")
    one, other = ObjectDelta.objects.all()
    with pytest.raises(DifferentObjects):
        one.diff(other)


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"REVY_ACTOR_LABEL": "no.such.function"}, "REVY_ACTOR_LABEL cannot be imported"),
        ({"REVY_ACTOR_LABEL": 42}, "REVY_ACTOR_LABEL must be a callable"),
        ({"REVY_REQUEST_DESCRIPTION_HEADER": ["X-A"]}, "REVY_REQUEST_DESCRIPTION_HEADER must be a header name"),
    ],
)
def test_system_checks_refuse_a_bad_actor_label_or_header_setting(settings_: dict, message: str) -> None:
    from revy.contrib.django.checks import check_settings

    with override_settings(**settings_):
        (error,) = check_settings()
    assert message in error.msg
