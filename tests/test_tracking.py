"""What a tracked save or delete records (contract §3), and what it costs (§8)."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.serializers import deserialize
from django.db import connection, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Now, Upper
from django.test.utils import CaptureQueriesContext

from revy import Context
from revy.contrib.django import specs
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.modes import in_either_mode
from tests.testapp.models import (
    Author,
    AuthorProxy,
    Category,
    Organization,
    Place,
    Record,
    Restaurant,
    Secret,
    Stamped,
    Tag,
)

SET, UNSET = AttributeDelta.ACTION_SET, AttributeDelta.ACTION_UNSET
PLUS_TWO = datetime.timezone(datetime.timedelta(hours=2))


def attribute_rows(delta: Any) -> dict[str, tuple[int, Any, Any]]:
    """{field name: (action, old_value, new_value)} of one object delta."""
    return {a.field_name: (a.action, a.old_value, a.new_value) for a in delta.attribute_deltas.all()}


@pytest.fixture
def related() -> dict[str, Any]:
    """FK targets with an int, a UUID and a string primary key (made untracked)."""
    return {
        "category": Category.objects.create(name="books"),
        "organization": Organization.objects.create(name="acme"),
        "other_organization": Organization.objects.create(name="globex"),
        "tag": Tag.objects.create(code="t-1"),
    }


def full_record(related: dict[str, Any]) -> Record:
    return Record.objects.create(
        title="Ledger",
        body="multi\nline ünïcode",
        count=7,
        big=2**40,
        ratio=0.25,
        price=Decimal("12.34"),
        active=True,
        flag=None,
        day=datetime.date(2024, 2, 29),
        moment=datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=PLUS_TWO),
        clock=datetime.time(13, 14, 15, 160000),
        span=datetime.timedelta(days=1, hours=2, microseconds=5),
        token=uuid.UUID("6f1c2a3e-8b4d-4e5f-9a6b-7c8d9e0f1a2b"),
        data={"k": [1, 2.5, None, True], "ü": "x"},
        blob=b"\x00\xffbin",
        email="a@example.com",
        slug="a-slug",
        ip="2001:db8::1",
        category=related["category"],
        organization=related["organization"],
        tag=related["tag"],
    )


# Create, update, delete


@in_either_mode
def test_create_records_every_tracked_field_as_set_from_null(related: dict[str, Any], mode: str) -> None:
    with Context():
        record = full_record(related)

    delta = ObjectDelta.objects.get()
    assert delta.action == ObjectDelta.ACTION_CREATE
    assert delta.content_type == ContentType.objects.get_for_model(Record)
    assert delta.content_id == str(record.pk)
    assert attribute_rows(delta) == {
        "id": (SET, None, record.pk),
        "title": (SET, None, "Ledger"),
        "body": (SET, None, "multi\nline ünïcode"),
        "count": (SET, None, 7),
        "big": (SET, None, 2**40),
        "ratio": (SET, None, 0.25),
        "price": (SET, None, "12.34"),
        "active": (SET, None, True),
        "flag": (SET, None, None),
        "day": (SET, None, "2024-02-29"),
        "moment": (SET, None, "2024-02-29T23:59:58.123456+02:00"),
        "clock": (SET, None, "13:14:15.160000"),
        "span": (SET, None, "P1DT02H00M00.000005S"),
        "token": (SET, None, "6f1c2a3e-8b4d-4e5f-9a6b-7c8d9e0f1a2b"),
        "data": (SET, None, {"k": [1, 2.5, None, True], "ü": "x"}),
        "blob": (SET, None, "AP9iaW4="),
        "email": (SET, None, "a@example.com"),
        "slug": (SET, None, "a-slug"),
        "ip": (SET, None, "2001:db8::1"),
        "category": (SET, None, related["category"].pk),
        "organization": (SET, None, str(related["organization"].pk)),
        "tag": (SET, None, "t-1"),
    }
    assert {f.name for f in Record._meta.concrete_fields} == set(attribute_rows(delta))


@in_either_mode
def test_create_of_nullable_fields_left_empty_stores_null(mode: str) -> None:
    with Context():
        record = Record.objects.create(title="bare")
    rows = attribute_rows(ObjectDelta.objects.get())
    for name in ("big", "flag", "day", "moment", "clock", "span", "data", "blob", "ip", "category", "tag"):
        assert rows[name] == (SET, None, None), name
    assert rows["title"] == (SET, None, "bare")
    assert rows["id"] == (SET, None, record.pk)


@in_either_mode
def test_update_records_only_changed_fields_with_old_and_new_values(related: dict[str, Any], mode: str) -> None:
    pk = full_record(related).pk
    record = Record.objects.get(pk=pk)
    record.title = "Ledger 2"
    record.price = Decimal("0.5")
    record.flag = False
    record.category = None
    record.organization = related["other_organization"]
    record.blob = b"new"
    record.data["k"].append(3)  # in place: the tracker kept a copy of the loaded value
    record.moment = record.moment  # same value: not a change

    with Context():
        record.save()

    delta = ObjectDelta.objects.get()
    assert (delta.action, delta.content_id) == (ObjectDelta.ACTION_UPDATE, str(pk))
    assert attribute_rows(delta) == {
        "title": (SET, "Ledger", "Ledger 2"),
        "price": (SET, "12.3400", "0.5"),
        "flag": (SET, None, False),
        "category": (SET, related["category"].pk, None),
        "organization": (SET, str(related["organization"].pk), str(related["other_organization"].pk)),
        "blob": (SET, "AP9iaW4=", "bmV3"),
        "data": (SET, {"k": [1, 2.5, None, True], "ü": "x"}, {"k": [1, 2.5, None, True, 3], "ü": "x"}),
    }


@in_either_mode
def test_update_fields_limits_what_is_recorded_and_the_rest_waits_for_its_save(mode: str) -> None:
    record = Record.objects.create(title="a", count=1)
    record.title = "b"
    record.count = 2
    with Context():
        record.save(update_fields=["title"])
        record.save(update_fields=["count"])

    first, second = ObjectDelta.objects.order_by("pk")
    assert attribute_rows(first) == {"title": (SET, "a", "b")}
    assert attribute_rows(second) == {"count": (SET, 1, 2)}


@in_either_mode
def test_update_fields_accepts_foreign_key_attnames(related: dict[str, Any], mode: str) -> None:
    record = Record.objects.create(title="a")
    record.tag = related["tag"]
    with Context():
        record.save(update_fields=["tag_id"])
    assert attribute_rows(ObjectDelta.objects.get()) == {"tag": (SET, None, "t-1")}


@in_either_mode
def test_update_of_an_instance_with_deferred_fields_records_what_changed(mode: str) -> None:
    pk = Record.objects.create(title="old", count=3, body="b").pk
    record = Record.objects.only("id", "count").get(pk=pk)
    record.title = "new"  # deferred: its stored value is read first, to know the old one
    record.count = 4
    with Context():
        record.save()
    assert attribute_rows(ObjectDelta.objects.get()) == {"title": (SET, "old", "new"), "count": (SET, 3, 4)}


@in_either_mode
def test_save_that_changes_nothing_records_nothing_not_even_a_revision(mode: str) -> None:
    record = Record.objects.create(title="a")
    with Context():
        record.save()
        Record.objects.get(pk=record.pk).save()
        record.title = "a"
        record.save()
    assert not ObjectDelta.objects.exists()
    assert not Revision.objects.exists()


@in_either_mode
def test_expression_values_are_recorded_as_the_database_computed_them(mode: str) -> None:
    user = User.objects.create(username="ann")
    record = Record.objects.create(title="t", count=1)
    with Context.via_actor(user):
        with Context.via_actor(None):
            record.count = F("count") + 41
        record.title = Upper(Value("shout"))
        record.save()
        created = Record.objects.create(title="now", moment=Now())

    update = ObjectDelta.objects.get(action=ObjectDelta.ACTION_UPDATE)
    assert {a.field_name: (a.old_value, a.new_value, a.actor) for a in update.attribute_deltas.all()} == {
        "count": (1, 42, None),
        "title": ("t", "SHOUT", user),
    }
    moment = AttributeDelta.objects.get(field_name="moment", new_value__isnull=False).new_value
    assert Record._meta.get_field("moment").to_python(moment) == created.moment
    assert (record.count, record.title) == (42, "SHOUT")


@in_either_mode
def test_delete_records_the_before_image_as_unset_of_every_field(related: dict[str, Any], mode: str) -> None:
    pk = full_record(related).pk
    record = Record.objects.get(pk=pk)
    record.title = "unsaved edit"  # the row, not the instance, is what gets deleted

    with Context():
        record.delete()

    delta = ObjectDelta.objects.get()
    assert (delta.action, delta.content_id) == (ObjectDelta.ACTION_DELETE, str(pk))
    assert attribute_rows(delta) == {
        "id": (UNSET, pk, None),
        "title": (UNSET, "Ledger", None),
        "body": (UNSET, "multi\nline ünïcode", None),
        "count": (UNSET, 7, None),
        "big": (UNSET, 2**40, None),
        "ratio": (UNSET, 0.25, None),
        "price": (UNSET, "12.3400", None),
        "active": (UNSET, True, None),
        "flag": (UNSET, None, None),
        "day": (UNSET, "2024-02-29", None),
        "moment": (UNSET, "2024-02-29T21:59:58.123456+00:00", None),
        "clock": (UNSET, "13:14:15.160000", None),
        "span": (UNSET, "P1DT02H00M00.000005S", None),
        "token": (UNSET, "6f1c2a3e-8b4d-4e5f-9a6b-7c8d9e0f1a2b", None),
        "data": (UNSET, {"k": [1, 2.5, None, True], "ü": "x"}, None),
        "blob": (UNSET, "AP9iaW4=", None),
        "email": (UNSET, "a@example.com", None),
        "slug": (UNSET, "a-slug", None),
        "ip": (UNSET, "2001:db8::1", None),
        "category": (UNSET, related["category"].pk, None),
        "organization": (UNSET, str(related["organization"].pk), None),
        "tag": (UNSET, "t-1", None),
    }


@pytest.mark.django_db
def test_queryset_delete_records_rows_never_loaded_before() -> None:
    first = Record.objects.create(title="one", count=1)
    second = Record.objects.create(title="two", count=2)
    with Context():
        Record.objects.filter(pk__in=[first.pk, second.pk]).delete()

    deltas = ObjectDelta.objects.order_by("content_id")
    assert [(d.action, d.content_id) for d in deltas] == [
        (ObjectDelta.ACTION_DELETE, str(first.pk)),
        (ObjectDelta.ACTION_DELETE, str(second.pk)),
    ]
    assert [attribute_rows(d)["title"] for d in deltas] == [(UNSET, "one", None), (UNSET, "two", None)]


@in_either_mode
def test_delete_of_an_instance_with_deferred_fields_still_records_them(mode: str) -> None:
    pk = Record.objects.create(title="deferred", count=5).pk
    record = Record.objects.only("id").get(pk=pk)
    with Context():
        record.delete()
    rows = attribute_rows(ObjectDelta.objects.get())
    assert rows["title"] == (UNSET, "deferred", None)
    assert rows["count"] == (UNSET, 5, None)


# When nothing is recorded


@pytest.mark.django_db
def test_nothing_is_recorded_outside_a_context() -> None:
    record = Record.objects.create(title="a")
    record.title = "b"
    record.save()
    record.delete()
    assert not ObjectDelta.objects.exists()
    assert not Revision.objects.exists()


@pytest.mark.django_db
def test_nothing_is_recorded_in_a_disabled_context() -> None:
    with Context.as_disabled():
        record = Record.objects.create(title="a")
        record.title = "b"
        record.save()
    with Context():
        Context.disable()
        record.delete()
    assert not ObjectDelta.objects.exists()
    assert not Revision.objects.exists()


@pytest.mark.django_db
def test_reenabled_scope_inside_a_disabled_one_records() -> None:
    with Context.as_disabled():
        Author.objects.create(name="hidden")
        with Context.as_enabled():
            Author.objects.create(name="seen")
    assert attribute_rows(ObjectDelta.objects.get())["name"] == (SET, None, "seen")


@pytest.mark.django_db
def test_raw_saves_are_not_recorded(tmp_path: Any) -> None:
    fixture = tmp_path / "authors.json"
    fixture.write_text(json.dumps([{"model": "testapp.author", "pk": 10, "fields": {"name": "loaded"}}]))
    payload = json.dumps([{"model": "testapp.secret", "pk": "k", "fields": {"value": "v", "hashed": "h"}}])
    with Context():
        call_command("loaddata", str(fixture), verbosity=0)
        for deserialized in deserialize("json", payload):
            deserialized.save()
        Author(pk=11, name="raw").save_base(raw=True)
    assert Author.objects.count() == 2
    assert Secret.objects.count() == 1
    assert not ObjectDelta.objects.exists()


# Actors


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["user", "organization", "tag", "system"])
def test_actor_of_any_model_or_none_is_read_back_as_the_same_object(kind: str) -> None:
    actor = {
        "user": lambda: User.objects.create(username="ann"),
        "organization": lambda: Organization.objects.create(name="acme"),
        "tag": lambda: Tag.objects.create(code="robot-7"),
        "system": lambda: None,
    }[kind]()
    with Context.via_actor(actor):
        author = Author.objects.create(name="a")
        author.name = "b"
        author.save()
        author.delete()

    deltas = ObjectDelta.objects.all()
    assert len(deltas) == 3
    for delta in deltas:
        assert delta.actor == actor
        assert {a.actor for a in delta.attribute_deltas.all()} == {actor}
    if actor is not None:
        assert ObjectDelta.objects.filter(actor_id=str(actor.pk)).count() == 3


# Revisions


@in_either_mode
def test_one_lazy_revision_per_outermost_context(mode: str) -> None:
    with Context():
        assert not Revision.objects.exists()
        Author.objects.create(name="a")
        with Context.via_actor(None):
            Author.objects.create(name="b")
    with Context():
        Author.objects.create(name="c")

    first, second, third = ObjectDelta.objects.order_by("pk")
    assert first.revision_id == second.revision_id != third.revision_id
    assert Revision.objects.count() == 2
    assert AttributeDelta.objects.exclude(revision_id=first.revision_id).count() == 2


@in_either_mode
def test_revision_description_is_the_one_visible_when_the_revision_is_created(mode: str) -> None:
    with Context():
        with Context.via_revision_description("Inner import"):
            Author.objects.create(name="a")
        Context.set_revision_description("Too late")
        Author.objects.create(name="b")
    revision = Revision.objects.get()
    assert revision.description == "Inner import"
    assert revision.object_deltas.count() == 2


@in_either_mode
def test_explicit_revision_is_used_and_saved_when_new(mode: str) -> None:
    existing = Revision.objects.create(description="existing")
    fresh = Revision(description="fresh")
    with Context.via_revision(existing):
        Author.objects.create(name="a")
        with Context.via_revision(fresh):
            Author.objects.create(name="b")
        Author.objects.create(name="c")
    assert fresh.pk is not None
    assert [d.revision_id for d in ObjectDelta.objects.order_by("pk")] == [existing.pk, fresh.pk, existing.pk]
    assert Revision.objects.count() == 2


@in_either_mode
def test_lazy_revision_is_built_once_and_only_when_a_delta_needs_it(mode: str) -> None:
    calls: list[Revision] = []

    def make_revision() -> Revision:
        calls.append(Revision.objects.create(description="from callable"))
        return calls[-1]

    with Context.via_revision(make_revision):
        Record.objects.create(title="untracked change follows")
        Category.objects.create(name="untracked")
    with Context.via_revision(make_revision):
        Category.objects.create(name="untracked")
    assert len(calls) == 1
    assert ObjectDelta.objects.get().revision == calls[0]


@pytest.mark.django_db
def test_revision_of_a_rolled_back_savepoint_is_not_reused() -> None:
    with Context():
        with pytest.raises(RuntimeError), transaction.atomic():
            Author.objects.create(name="gone")
            raise RuntimeError
        Author.objects.create(name="kept")
    delta = ObjectDelta.objects.get()
    assert Revision.objects.filter(pk=delta.revision_id).exists()
    assert Revision.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_revision_of_a_rolled_back_transaction_is_not_reused() -> None:
    with Context():
        with pytest.raises(RuntimeError), transaction.atomic():
            Author.objects.create(name="gone")
            raise RuntimeError
        Author.objects.create(name="kept")
        Author.objects.create(name="kept too")
    revisions = {d.revision_id for d in ObjectDelta.objects.all()}
    assert len(revisions) == 1
    assert Revision.objects.filter(pk__in=revisions).count() == 1


@pytest.mark.django_db(transaction=True)
def test_revision_committed_in_autocommit_is_shared_by_later_writes() -> None:
    with Context():
        Author.objects.create(name="a")
        Author.objects.create(name="b")
    assert Revision.objects.count() == 1
    assert ObjectDelta.objects.values("revision").distinct().count() == 1


# Collaborative attribution


def correct_totals(user: User, pk: int, amount: Decimal, exchange_rate: int, local_amount: int) -> None:
    """The seed README's view: price is the amount, count the rate, big the local amount."""
    with Context.via_actor(user):
        Context.set_revision_description("Totals from the form")
        instance = Record.objects.get(pk=pk)
        instance.price, instance.count, instance.big = amount, exchange_rate, local_amount
        computed = int(instance.price * instance.count)
        if instance.big != computed:
            with Context.via_actor(None), Context.via_attribute_delta_description("Corrected by the system."):
                instance.big = computed
        instance.save()


@in_either_mode
def test_attribute_assigned_by_the_system_keeps_its_actor_and_description_when_saved_by_a_user(mode: str) -> None:
    user = User.objects.create(username="ann")
    pk = Record.objects.create(title="invoice", price=Decimal("1"), count=1, big=1).pk

    correct_totals(user, pk, amount=Decimal("10"), exchange_rate=3, local_amount=29)

    revision = Revision.objects.get()
    assert revision.description == "Totals from the form"
    delta = ObjectDelta.objects.get()
    assert (delta.action, delta.actor, delta.revision) == (ObjectDelta.ACTION_UPDATE, user, revision)
    by_field = {a.field_name: (a.actor, a.description, a.new_value) for a in delta.attribute_deltas.all()}
    assert by_field == {
        "price": (user, "", "10"),
        "count": (user, "", 3),
        "big": (None, "Corrected by the system.", 30),
    }


@in_either_mode
def test_attribution_lasts_until_the_attribute_is_saved_or_reassigned(mode: str) -> None:
    user = User.objects.create(username="ann")
    author = Author.objects.create(name="a")
    with Context.via_actor(None), Context.via_attribute_delta_description("bot"):
        author.name = "by bot"
    author.name = "outside any context"  # forgets the bot: save-time actor applies
    with Context.via_actor(user):
        author.save()
        with Context.via_actor(None):
            author.name = "bot again"
        author.save()
        author.name = "user again"
        author.save()
    rows = [
        (a.new_value, a.actor, a.description) for a in AttributeDelta.objects.filter(field_name="name").order_by("pk")
    ]
    assert rows == [("outside any context", user, ""), ("bot again", None, ""), ("user again", user, "")]


@in_either_mode
def test_attribution_applies_to_creates_too(mode: str) -> None:
    user = User.objects.create(username="ann")
    author = Author(name="draft")
    with Context.via_actor(None), Context.via_attribute_delta_description("imported"):
        author.name = "imported name"
    with Context.via_actor(user):
        author.save()
    rows = {a.field_name: (a.actor, a.description) for a in AttributeDelta.objects.all()}
    assert rows == {"id": (user, ""), "name": (None, "imported")}


# Special models


@in_either_mode
def test_quoted_table_custom_pk_and_excluded_field(mode: str) -> None:
    with Context():
        secret = Secret.objects.create(code="k-1", value="v1", hashed="h1")
        secret.hashed = "h2"
        secret.save()  # only the excluded field changed: nothing to record
        secret.value = "v2"
        secret.hashed = "h3"
        secret.save()
        Secret.objects.get(pk="k-1").delete()

    create, update, delete = ObjectDelta.objects.order_by("pk")
    assert {d.content_id for d in (create, update, delete)} == {"k-1"}
    assert attribute_rows(create) == {"code": (SET, None, "k-1"), "value": (SET, None, "v1")}
    assert attribute_rows(update) == {"value": (SET, "v1", "v2")}
    assert attribute_rows(delete) == {"code": (UNSET, "k-1", None), "value": (UNSET, "v2", None)}
    assert not AttributeDelta.objects.filter(field_name="hashed").exists()


@in_either_mode
def test_proxy_changes_are_recorded_under_the_concrete_model(mode: str) -> None:
    with Context():
        proxy = AuthorProxy.objects.create(name="p")
        proxy.name = "q"
        proxy.save()
        proxy.delete()
    author_type = ContentType.objects.get_for_model(Author)
    assert [(d.action, d.content_type) for d in ObjectDelta.objects.order_by("pk")] == [
        (ObjectDelta.ACTION_CREATE, author_type),
        (ObjectDelta.ACTION_UPDATE, author_type),
        (ObjectDelta.ACTION_DELETE, author_type),
    ]


@in_either_mode
def test_multi_table_child_is_recorded_with_its_parent_fields(mode: str) -> None:
    with Context():
        restaurant = Restaurant.objects.create(name="Luigi's", serves_pizza=True)
        restaurant.name = "Mario's"
        restaurant.save()
    pk = restaurant.pk
    restaurant_type = ContentType.objects.get_for_model(Restaurant)
    create, update = ObjectDelta.objects.order_by("pk")
    assert (create.content_type, create.content_id) == (restaurant_type, str(pk))
    assert attribute_rows(create) == {
        "id": (SET, None, pk),
        "place_ptr": (SET, None, pk),
        "name": (SET, None, "Luigi's"),
        "serves_pizza": (SET, None, True),
    }
    assert attribute_rows(update) == {"name": (SET, "Luigi's", "Mario's")}


@pytest.mark.django_db
def test_multi_table_child_delete_records_the_whole_before_image() -> None:
    pk = Restaurant.objects.create(name="Luigi's", serves_pizza=True).pk
    with Context():
        Restaurant.objects.get(pk=pk).delete()
    restaurant_delta = ObjectDelta.objects.get(content_type=ContentType.objects.get_for_model(Restaurant))
    assert restaurant_delta.action == ObjectDelta.ACTION_DELETE
    assert attribute_rows(restaurant_delta) == {
        "id": (UNSET, pk, None),
        "place_ptr": (UNSET, pk, None),
        "name": (UNSET, "Luigi's", None),
        "serves_pizza": (UNSET, True, None),
    }
    assert not Place.objects.exists()
    # The parent row goes with its child: the child's delta is the whole record.
    assert ObjectDelta.objects.count() == 1


@pytest.mark.django_db
def test_deleting_a_multi_table_parent_records_it_and_its_child() -> None:
    pk = Restaurant.objects.create(name="Luigi's", serves_pizza=True).pk
    with Context():
        Place.objects.get(pk=pk).delete()
    assert sorted(ObjectDelta.objects.values_list("content_type__model", "content_id", "action")) == [
        ("place", str(pk), ObjectDelta.ACTION_DELETE),
        ("restaurant", str(pk), ObjectDelta.ACTION_DELETE),
    ]


# Async


@pytest.mark.django_db(transaction=True)
def test_asave_and_adelete_are_tracked_like_save_and_delete() -> None:
    async def edit() -> None:
        async with Context.via_actor(None), Context.via_revision_description("async"):
            author = Author(name="a")
            await author.asave()
            author.name = "b"
            await author.asave()
            await author.adelete()

    async_to_sync(edit)()
    assert [d.action for d in ObjectDelta.objects.order_by("pk")] == [
        ObjectDelta.ACTION_CREATE,
        ObjectDelta.ACTION_UPDATE,
        ObjectDelta.ACTION_DELETE,
    ]
    assert Revision.objects.get().description == "async"


# Cost (§8): counted statements, never timed


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(TRANSACTION_CONTROL)]


def server_side_binding() -> bool:
    return bool(connection.settings_dict["OPTIONS"].get("server_side_binding"))


def measure_create_update_delete() -> dict[str, CaptureQueriesContext]:
    measured = {}
    with CaptureQueriesContext(connection) as measured["create"]:
        record = Record.objects.create(title="t", price=Decimal("1.5"), data={"a": 1})
    record.title = "u"
    with CaptureQueriesContext(connection) as measured["update"]:
        record.save()
    with CaptureQueriesContext(connection) as measured["delete"]:
        record.delete()
    return measured


def assert_at_most_two_inserts_more(tracked: dict[str, Any], untracked: dict[str, Any]) -> None:
    delta_tables = (ObjectDelta._meta.db_table, AttributeDelta._meta.db_table)
    for operation in ("create", "update", "delete"):
        plain, more = statements(untracked[operation]), statements(tracked[operation])
        # On PostgreSQL both inserts travel as one WITH ... INSERT statement; in autocommit a save's
        # own INSERT or UPDATE carries them (WITH revy_change AS (...)), and counts as Django's.
        delta_inserts = [
            s
            for s in more
            if s.startswith(("INSERT INTO", "WITH"))
            and not s.startswith("WITH revy_change ")
            and any(t in s for t in delta_tables)
        ]
        assert len(delta_inserts) <= 2, (operation, delta_inserts)
        assert len(more) - len(delta_inserts) == len(plain), (operation, more, plain)
        assert not any(sql.upper().startswith("SELECT") for sql in more), (operation, more)


@pytest.mark.django_db
def test_steady_state_write_costs_two_inserts_and_no_savepoint_in_a_transaction() -> None:
    user = User.objects.create(username="ann")
    with Context.via_actor(user):
        Record.objects.create(title="first")  # creates the revision; content types get cached
        tracked = measure_create_update_delete()
    with Context.as_disabled():
        disabled = measure_create_update_delete()
    untracked = measure_create_update_delete()

    assert_at_most_two_inserts_more(tracked, disabled)
    assert_at_most_two_inserts_more(tracked, untracked)
    for captured in tracked.values():
        assert not any("SAVEPOINT" in q["sql"].upper() for q in captured.captured_queries)
    assert ObjectDelta.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_steady_state_write_costs_two_inserts_in_autocommit() -> None:
    ContentType.objects.get_for_model(Record)
    with Context.via_actor(None):
        Record.objects.create(title="first")
        tracked = measure_create_update_delete()
    untracked = measure_create_update_delete()

    assert_at_most_two_inserts_more(tracked, untracked)
    assert ObjectDelta.objects.count() == 4
    if connection.vendor == "postgresql":
        # One statement, committing by itself, as the untracked save's does: no BEGIN, no COMMIT.
        for operation, write in (("create", "INSERT INTO"), ("update", "UPDATE")):
            sqls = [q["sql"] for q in tracked[operation].captured_queries]
            assert len(sqls) == 1, sqls
            # (With server-side binding Django logs its statement before revy's wrapper folds the deltas in.)
            assert sqls[0].startswith(f"WITH revy_change AS ({write} ") or server_side_binding(), sqls
        # A delete is Django's transaction (it has recording now), whose DELETE carries the deltas.
        delete = statements(tracked["delete"])[0]
        assert delete.startswith("WITH revy_change AS (DELETE ") or server_side_binding(), tracked["delete"]


# Database aliases


@pytest.mark.django_db(databases=["default", "other"])
def test_deltas_are_written_to_the_database_of_the_change() -> None:
    with Context():
        author = Author.objects.using("other").create(name="elsewhere")
        author.name = "still elsewhere"
        author.save()
        author.delete()
        Author.objects.create(name="here")

    other = ObjectDelta.objects.using("other")
    assert [d.action for d in other.order_by("pk")] == [
        ObjectDelta.ACTION_CREATE,
        ObjectDelta.ACTION_UPDATE,
        ObjectDelta.ACTION_DELETE,
    ]
    assert Revision.objects.using("other").count() == 1
    assert AttributeDelta.objects.using("other").filter(field_name="name").count() == 3
    assert attribute_rows(ObjectDelta.objects.get())["name"] == (SET, None, "here")
    assert Revision.objects.count() == 1


# The user documentation

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_section(title: str) -> str:
    """The text of the README's ``## title`` section."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "section",
    [
        "Installation and setup",
        "Contexts: who, why, and in which revision",
        "Tracking models",
        "Foreign key deletion handlers",
        "Bulk writes and many-to-many",
        "History, snapshots and undo",
        "Requests, the admin and the terminal",
    ],
)
def test_readme_examples_run(section: str) -> None:
    """Every python block of a README section, in order, as one module.

    Its models join revy's app label (no test model's table shares their names)
    in the real app registry, as a user's would, and leave it afterwards.
    """
    namespace: dict[str, Any] = {"__name__": "revy.contrib.django.readme"}
    registered = dict(specs._specs)
    before = set(apps.all_models["revy"])
    made: list[type[models.Model]] = []
    blocks = re.findall(r"```python\n(.*?)```", readme_section(section), flags=re.DOTALL)
    assert blocks
    try:
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
            new = [m for name, m in apps.all_models["revy"].items() if name not in before and m not in made]
            # Proxies have no table; create_model() makes the tables of auto-created through models.
            new = [m for m in new if not (m._meta.proxy or m._meta.auto_created)]
            for model in new:  # in the order declared: referred tables first
                with connection.schema_editor() as editor:
                    editor.create_model(model)
                made.append(model)
    finally:
        with connection.schema_editor() as editor:
            for model in reversed(made):  # referring tables first
                editor.delete_model(model)
        for name in set(apps.all_models["revy"]) - before:
            del apps.all_models["revy"][name]
        apps.clear_cache()
        specs._specs.clear()
        specs._specs.update(registered)


@in_either_mode
def test_field_deferred_when_loaded_records_its_database_value_as_old(mode: str) -> None:
    record = Record.objects.create(title="first", body="old body", count=1)
    loaded = Record.objects.only("title").get(pk=record.pk)
    with Context():
        loaded.body = "new body"
        loaded.count = 1  # the same value as the row holds: no change
        loaded.save()
    update = ObjectDelta.objects.get(action=ObjectDelta.ACTION_UPDATE)
    assert attribute_rows(update) == {"body": (SET, "old body", "new body")}


@pytest.mark.django_db
def test_reading_a_tracked_instance_computes_no_deferred_fields(django_assert_num_queries: Any) -> None:
    """Field reads stay plain attribute reads: revy wraps no descriptor."""
    record = Record.objects.create(title="first")
    assert type(record).__dict__["title"].__class__.__name__ == "DeferredAttribute"
    with django_assert_num_queries(0):
        assert (record.title, record.pk) == ("first", record.pk)


@in_either_mode
def test_a_field_the_save_itself_changes_is_recorded_with_the_change(mode: str) -> None:
    with Context():
        stamped = Stamped.objects.create(name="a")
        first = stamped.updated
        stamped.name = "b"
        stamped.save()
        second = stamped.updated
        stamped.save()  # only auto_now would change: nothing to record
    update = ObjectDelta.objects.get(action=ObjectDelta.ACTION_UPDATE)
    assert attribute_rows(update) == {
        "name": (SET, "a", "b"),
        "updated": (SET, first.isoformat(), second.isoformat()),
    }


@in_either_mode
def test_a_new_instance_given_an_existing_pk_records_only_what_differs_from_the_row(mode: str) -> None:
    author = Author.objects.create(name="same")
    with Context():
        Author(pk=author.pk, name="same").save()
        assert not ObjectDelta.objects.exists()
        Author(pk=author.pk, name="other").save()
    update = ObjectDelta.objects.get()
    assert update.action == ObjectDelta.ACTION_UPDATE
    assert attribute_rows(update) == {"name": (SET, "same", "other")}


@pytest.mark.django_db
def test_deleting_a_parent_whose_missing_child_was_looked_up_records_it() -> None:
    with Context():
        place = Place.objects.create(name="x")
        assert not hasattr(place, "restaurant")  # caches "no child"
        place.delete()
    assert ObjectDelta.objects.filter(action=ObjectDelta.ACTION_DELETE).count() == 1
