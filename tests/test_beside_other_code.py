"""revy lives beside other code: nothing of a model patched beyond its tracker, every field type
stored through the field, users' own overrides and other code's SQL left working (contract §12)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection, models
from django.test.utils import CaptureQueriesContext, isolate_apps, override_settings

import revy
from revy import Context, RegistrationError
from revy.contrib.django.checks import check_settings
from revy.contrib.django.models import AttributeDelta, ObjectDelta, ObjectSnapshot
from tests.modes import in_either_mode
from tests.testapp.models import (
    Appliance,
    Attachment,
    Audited,
    Author,
    Category,
    Jotted,
    Money,
    Post,
    Record,
    Restaurant,
    Wrapped,
    Wrapper,
)

# A 1 by 1 PNG, for the ImageField.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def newest(obj: models.Model, pk: Any = None) -> Any:
    """The newest delta of ``obj`` (of the object with ``pk`` once ``obj`` is deleted)."""
    deltas = ObjectDelta.objects.for_model(type(obj)).filter(content_id=str(obj.pk if pk is None else pk))
    return deltas.order_by("-pk").first()


def recorded(obj: models.Model, pk: Any = None) -> dict[str, tuple[Any, Any]]:
    """(old, new) of each field in the newest delta of ``obj``."""
    delta = newest(obj, pk)
    assert delta is not None
    return {a.field_name: (a.old_value, a.new_value) for a in delta.attribute_deltas.all()}


def snapshot_of_newest(obj: models.Model, pk: Any = None) -> Any:
    delta = newest(obj, pk)
    return ObjectDelta.objects.filter(pk=delta.pk).annotate(snapshot=ObjectSnapshot(type(obj))).get().snapshot


# Nothing patched beyond the tracker's own.

TRACKER_NAMES = {"revy_tracker", "__init__", "save_base", "refresh_from_db", "history"}


@isolate_apps("tests.testapp")
def test_registering_a_model_adds_only_the_trackers_names_to_its_class() -> None:
    class Plain(models.Model):
        name = models.CharField(max_length=20)

        def delete(self):
            return super().delete()

        class Meta:
            app_label = "testapp"

    before = dict(Plain.__dict__)
    revy.register(Plain)
    changed = {name for name, value in Plain.__dict__.items() if before.get(name, object()) is not value}
    assert changed == TRACKER_NAMES
    assert Plain.__dict__["delete"] is before["delete"]
    for name in ("_do_insert", "_do_update", "save", "_save_table"):
        assert getattr(Plain, name) is getattr(models.Model, name)


@isolate_apps("tests.testapp")
def test_a_tracked_model_class_gets_only_the_trackers_names() -> None:
    class Note(revy.RevyTrackedModel):
        title = models.CharField(max_length=20)

        class Meta:
            app_label = "testapp"

    assert set(Note.__dict__) & {"delete", "_do_insert", "_do_update", "save"} == set()
    assert Note.delete is revy.RevyTrackedModel.delete
    assert Note._do_insert is models.Model._do_insert
    assert Note._do_update is models.Model._do_update
    assert set(Note.__dict__) >= TRACKER_NAMES


# Users' own save() and delete() overrides, with signatures of their own.


@in_either_mode
def test_a_registered_models_own_delete_without_arguments_works_with_and_without_a_context(mode: str) -> None:
    kept = Appliance.objects.create(name="untracked")
    kept.delete()
    with Context.via_actor(None):
        gadget = Appliance.objects.create(name="tracked")
        pk = gadget.pk
        gadget.delete()
    assert not Appliance.objects.exists()
    assert set(Category.objects.values_list("name", flat=True)) == {"deleted untracked", "deleted tracked"}
    deltas = ObjectDelta.objects.for_model(Appliance).order_by("pk")
    assert [(d.action, d.content_id) for d in deltas] == [(ObjectDelta.ACTION_CREATE, str(pk)), (3, str(pk))]


@in_either_mode
def test_a_registered_models_own_save_base_runs_once_per_save(mode: str) -> None:
    gadget = Appliance.objects.create(name="a")
    with Context():
        gadget.name = "b"
        gadget.save()
    assert Appliance.objects.get().based == 2
    assert recorded(gadget) == {"name": ("a", "b"), "based": (1, 2)}


@in_either_mode
def test_a_tracked_models_own_save_and_delete_overrides_keep_working(mode: str) -> None:
    untracked = Audited.objects.create(name="u")
    untracked.delete()
    with Context():
        audited = Audited.objects.create(name="t")
        audited.name = "t2"
        audited.save(update_fields=["name", "saves"])
        audited.delete()
    assert set(Category.objects.values_list("name", flat=True)) == {"deleted u", "deleted t2"}
    actions = list(ObjectDelta.objects.for_model(Audited).order_by("pk").values_list("action", flat=True))
    assert actions == [ObjectDelta.ACTION_CREATE, ObjectDelta.ACTION_UPDATE, ObjectDelta.ACTION_DELETE]
    update = ObjectDelta.objects.for_model(Audited).get(action=ObjectDelta.ACTION_UPDATE)
    assert {a.field_name: (a.old_value, a.new_value) for a in update.attribute_deltas.all()} == {
        "name": ("t", "t2"),
        "saves": (1, 2),
    }


@in_either_mode
def test_a_models_own_setattr_after_revy_in_its_bases_sees_every_assignment(mode: str) -> None:
    user = User.objects.create(username="ann")
    Jotted.objects.create(name="a")
    loaded = Jotted.objects.get()
    assert set(loaded.jotted) >= {"_state", "id", "name"}  # each attribute Django set while loading it
    with Context.via_actor(None), Context.via_attribute_delta_description("bot"):
        loaded.name = "by bot"
    assert loaded.jotted[-1] == "name"
    with Context.via_actor(user):
        loaded.save()
    change = AttributeDelta.objects.get(field_name="name", new_value="by bot")
    assert (change.actor, change.description) == (None, "bot")  # revy still noted who assigned it


# Every field type stored through the field.


@pytest.fixture
def media(tmp_path: Any) -> Iterator[None]:
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        yield


@in_either_mode
def test_file_and_image_fields_are_stored_by_name_and_restored(mode: str, media: None) -> None:
    with Context():
        attachment = Attachment(name="a")
        attachment.document.save("report.txt", ContentFile(b"text"), save=False)
        attachment.picture.save("dot.png", ContentFile(PNG), save=False)
        attachment.save()
        first = recorded(attachment)
        attachment.document = "attachments/other.txt"
        attachment.save()
        changed = recorded(attachment)
        pk = attachment.pk
        attachment.delete()
    assert first["document"] == (None, attachment.document.field.generate_filename(None, "report.txt"))
    assert first["picture"][1].startswith("pictures/dot")
    assert changed == {"document": (first["document"][1], "attachments/other.txt")}
    restored = snapshot_of_newest(attachment, pk)
    assert restored.document.name == "attachments/other.txt"
    assert restored.picture.name == first["picture"][1]
    restored.save()
    assert Attachment.objects.get().document.name == "attachments/other.txt"


@in_either_mode
def test_binary_field_given_a_memoryview_saves_with_and_without_a_context(mode: str) -> None:
    untracked = Attachment.objects.create(name="u", blob=memoryview(b"\x00\x01"))
    untracked.blob = memoryview(b"\x02")
    untracked.save()
    with Context():
        tracked = Attachment.objects.create(name="t", blob=memoryview(b"\xde\xad"))
        tracked.blob = memoryview(b"\xbe\xef")
        tracked.save()
    assert bytes(Attachment.objects.get(name="u").blob) == b"\x02"
    assert recorded(tracked) == {"blob": ("3q0=", "vu8=")}
    assert snapshot_of_newest(tracked).blob == b"\xbe\xef"


@in_either_mode
def test_a_custom_field_round_trips_without_an_encoder(mode: str) -> None:
    with Context():
        attachment = Attachment.objects.create(name="m", price=Money(Decimal("12.50"), "EUR"))
        attachment.price = Money(Decimal("13.00"), "EUR")
        attachment.save()
    assert recorded(attachment) == {"price": ("12.50 EUR", "13.00 EUR")}
    assert snapshot_of_newest(attachment).price == Money(Decimal("13.00"), "EUR")


@in_either_mode
def test_a_primary_key_that_is_an_object_round_trips(mode: str) -> None:
    with Context():
        wrapped = Wrapped.objects.create(code=Wrapper("w-1"), label="one")
        wrapped.label = "two"
        wrapped.save()
        wrapped.delete()
    assert recorded(wrapped, "w-1") == {"code": ("w-1", None), "label": ("two", None)}
    restored = snapshot_of_newest(wrapped, "w-1")
    assert restored.code == Wrapper("w-1")
    restored.save()
    assert Wrapped.objects.get().label == "two"


@in_either_mode
def test_update_or_create_given_an_instance_for_a_key_records_its_id(mode: str) -> None:
    first, second = Author.objects.create(name="first"), Author.objects.create(name="second")
    post = Post.objects.create(author=first, title="p")
    with Context():
        Post.objects.update_or_create(title="p", defaults={"author_id": second})
        Post.objects.update_or_create(title="p", defaults={"author_id": second})  # no change: nothing recorded
    assert Post.objects.get().author_id == second.pk
    assert ObjectDelta.objects.for_model(Post).count() == 1
    assert recorded(post) == {"author": (first.pk, second.pk)}


# Other code's SQL: execute wrappers that rewrite statements before or after revy's.

REWRITES: dict[str, Callable[[str], str]] = {
    "suffix line comment": lambda sql: sql + " -- tag",
    "suffix block comment": lambda sql: sql + " /* tag */",
    "prefix block comment": lambda sql: "/* tag */ " + sql,
    "prefix line comment": lambda sql: "-- tag\n" + sql,
    "sqlcommenter": lambda sql: sql + " /*controller='index',framework='django%%3A5.2',route='%%5E%%24'*/",
    "trailing newline": lambda sql: sql + "\n",
    "trailing semicolon": lambda sql: sql + ";",
}


@contextmanager
def rewriting(rewrite: Callable[[str], str]) -> Iterator[list[str]]:
    """Every statement rewritten on its way to the database; yields what reached it."""
    sent: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        sql = rewrite(sql)
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield sent


def write_each_way() -> Record:
    record = Record.objects.create(title="one", count=1)
    record.title = "two"
    record.save()
    Record.objects.get(pk=record.pk).delete()
    return record


@in_either_mode
@pytest.mark.parametrize("name", list(REWRITES))
def test_statements_rewritten_by_other_code_are_recorded_whole(mode: str, name: str) -> None:
    with rewriting(REWRITES[name]):
        write_each_way()  # untracked, as a baseline that works
        with Context():
            record = write_each_way()
    deltas = ObjectDelta.objects.for_object(record).order_by("pk")
    assert [d.action for d in deltas] == [1, 2, 3]
    assert deltas[1].attribute_deltas.get().new_value == "two"
    assert deltas[2].attribute_deltas.count() == len(Record._meta.concrete_fields)
    assert not Record.objects.exists()


@in_either_mode
@pytest.mark.parametrize("name", list(REWRITES))
def test_rewriting_inside_revys_wrapper_keeps_the_write_whole(mode: str, name: str) -> None:
    # A wrapper entered after the save began (a pre_save receiver's) sees revy's statements.
    from django.db.models.signals import pre_save

    entered: list[Any] = []

    def enter_wrapper(sender: Any, **kwargs: Any) -> None:
        manager = rewriting(REWRITES[name])
        manager.__enter__()
        entered.append(manager)

    pre_save.connect(enter_wrapper, sender=Record)
    try:
        with Context():
            record = Record.objects.create(title="one")
    finally:
        pre_save.disconnect(enter_wrapper, sender=Record)
        for manager in reversed(entered):
            manager.__exit__(None, None, None)
    assert recorded(record)["title"] == (None, "one")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one-statement writes are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", [*(name for name in REWRITES if name != "trailing semicolon"), "set_config prefix"])
def test_on_postgresql_a_rewritten_write_still_carries_its_deltas(name: str) -> None:
    if name == "set_config prefix" and connection.settings_dict["OPTIONS"].get("server_side_binding"):
        pytest.skip("server-side binding runs one statement per execute: the prefix fails untracked too")
    # (After a statement ended by ";" nothing can follow inside it: that write takes the transaction path.)
    def set_config(sql: str) -> str:
        return "SELECT set_config('revy.test', %s, true); " + sql

    rewrite = REWRITES.get(name, set_config)
    record = Record.objects.create(title="one")
    with Context():
        Record.objects.create(title="warm")  # the revision exists: steady state
        record.title = "two"

        def add_param(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
            if name == "set_config prefix":
                params = ("value", *(params or ()))
            return execute(rewrite(sql), params, many, context)

        with connection.execute_wrapper(add_param), CaptureQueriesContext(connection) as queries:
            record.save()
            created = Record.objects.create(title="three")
    assert len(queries) == 2  # each write is one statement with its deltas
    assert recorded(record) == {"title": ("one", "two")}
    assert recorded(created)["title"] == (None, "three")
    assert recorded(created)["id"] == (None, created.pk)


# Memory: no reference cycle.


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def dies_with_its_last_name(make: Callable[[], models.Model], *steps: Callable[[models.Model], Any]) -> bool:
    instance = make()
    for step in steps:
        step(instance)
    ref = weakref.ref(instance)
    del instance
    return ref() is None


@in_either_mode
def test_tracked_instances_create_no_reference_cycle(mode: str, no_gc: None) -> None:
    author = Author.objects.create(name="kept")
    Post.objects.create(author=author, title="p")

    def rename(post: models.Model) -> None:
        post.title = "q"
        post.save()

    def delete(post: models.Model) -> None:
        post.delete()

    assert dies_with_its_last_name(lambda: Post.objects.get())
    with Context():
        assert dies_with_its_last_name(lambda: Post.objects.get())
        assert dies_with_its_last_name(lambda: Post.objects.get(), rename)
        assert dies_with_its_last_name(lambda: Post.objects.create(author=author, title="new"))
        assert dies_with_its_last_name(lambda: Post.objects.get(title="q"), delete)
        assert dies_with_its_last_name(lambda: Appliance.objects.create(name="a"), rename_appliance)


@in_either_mode
def test_one_to_one_partners_are_freed_by_the_collector(mode: str) -> None:
    # Django caches a one-to-one both ways, a cycle of its own that only the collector frees.
    with Context():
        Restaurant.objects.create(name="r")
        restaurant = Restaurant.objects.get()
        place = restaurant.place_ptr
        assert place.restaurant is restaurant
        place.name = "renamed"
        place.save()
    refs = [weakref.ref(restaurant), weakref.ref(place)]
    del restaurant, place
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


def rename_appliance(gadget: models.Model) -> None:
    gadget.name = "h"
    gadget.save()


@pytest.mark.django_db
def test_refresh_of_a_deferred_field_costs_what_it_costs_untracked() -> None:
    Record.objects.create(title="t", body="b")
    Category.objects.create(name="c")
    record = Record.objects.defer("body").get()
    category = Category.objects.defer("name").get()
    with CaptureQueriesContext(connection) as untracked:
        category.refresh_from_db()
    with CaptureQueriesContext(connection) as tracked:
        record.refresh_from_db()
    assert len(tracked) == len(untracked) == 1  # the deferred field stays deferred
    with CaptureQueriesContext(connection) as loading:
        assert record.body == "b"
    assert len(loading) == 1


# The bugs listed in issue #12.


@pytest.mark.django_db
@override_settings(REVY_JSON_ENCODER="no.such.Encoder")
def test_an_encoder_that_cannot_be_imported_is_reported_by_the_check() -> None:
    errors = [error.id for error in check_settings()]
    assert errors == ["revy.E004"]
    Category.objects.create(name="models still load and save")


def test_an_encoder_that_cannot_be_imported_breaks_no_import_and_is_reported_by_check(tmp_path: Path) -> None:
    (tmp_path / "misspelt_encoder_settings.py").write_text(
        "from tests.settings import *\n"
        "REVY_JSON_ENCODER = 'no.such.Encoder'\n"
        # check needs no server: Django 6 asks every database it is given for its own checks.
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[1])]),
            "DJANGO_SETTINGS_MODULE": "misspelt_encoder_settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "revy.E004" in result.stderr
    assert "Traceback" not in result.stderr


@isolate_apps("tests.testapp")
def test_a_field_both_tracked_and_excluded_is_refused() -> None:
    class Both(models.Model):
        name = models.CharField(max_length=20)

        class Meta:
            app_label = "testapp"

    with pytest.raises(RegistrationError, match="name cannot be both tracked"):
        revy.register(Both, fields=["name"], exclude=["name"])


@pytest.mark.django_db(transaction=True)
def test_a_save_that_changes_nothing_runs_no_transaction() -> None:
    record = Record.objects.create(title="same")
    in_transaction: list[bool] = []

    def note(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        in_transaction.append(connection.in_atomic_block)
        return execute(sql, params, many, context)

    with Context(), connection.execute_wrapper(note), CaptureQueriesContext(connection) as queries:
        record.save()
    assert in_transaction == [False]
    assert [q["sql"].split()[0] for q in queries] == ["UPDATE"]
    assert not ObjectDelta.objects.exists()
    assert not AttributeDelta.objects.exists()
