"""Which models are tracked: ``revy.register``, ``RevyTrackedModel`` options, system checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser, User
from django.core import checks
from django.db import connection, models
from django.test import override_settings
from django.test.utils import isolate_apps

import revy
from revy import Context, RegistrationError, RevyTrackedModel
from revy.contrib.django import specs
from revy.contrib.django.checks import check_settings
from revy.contrib.django.models import AttributeDelta, ObjectDelta
from tests.testapp.models import Author, AuthorProxy, Category


def recorded_fields(model: type[models.Model]) -> set[str]:
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(model)
    return set(AttributeDelta.objects.filter(content_type=content_type).values_list("field_name", flat=True))


# Refusals


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        (AbstractUser, {}, "AbstractUser is abstract"),
        (AuthorProxy, {}, "inherits RevyTrackedModel"),
        (Author, {}, "inherits RevyTrackedModel"),
        ("auth.User", {}, "takes a model class"),
        (Category, {"fields": ["nope", "name"]}, "Category has no concrete field named nope"),
        (Category, {"exclude": ["nope"]}, "Category has no concrete field named nope"),
        (Category, {"exclude": ["id"]}, "primary key 'id' of Category is always tracked"),
        (Category, {"exclude": "name"}, "not a string"),
        (
            User,
            {"exclude": ["password", "email"]},
            "User is registered already with fields=None, exclude=('password',)",
        ),
        (User, {}, "User is registered already"),
    ],
)
def test_register_refuses_what_it_cannot_track(model: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(RegistrationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        revy.register(model, **options)


@pytest.mark.django_db
def test_refused_registration_leaves_the_model_untracked() -> None:
    for options in ({"fields": ["nope"]}, {"exclude": ["id"]}):
        with pytest.raises(RegistrationError):
            revy.register(Category, **options)
    with Context():
        Category.objects.create(name="still untracked")
    assert not ObjectDelta.objects.exists()


@isolate_apps("tests.testapp")
def test_register_refuses_a_proxy_and_names_its_concrete_model() -> None:
    class CategoryProxy(Category):
        class Meta:
            proxy = True
            app_label = "testapp"

    with pytest.raises(RegistrationError, match="CategoryProxy is a proxy; register its concrete model"):
        revy.register(CategoryProxy)


@isolate_apps("tests.testapp")
def test_tracked_model_with_an_unknown_excluded_field_fails_at_class_creation() -> None:
    with pytest.raises(RegistrationError, match="Misspelt has no concrete field named titel"):

        class Misspelt(RevyTrackedModel):
            title = models.CharField(max_length=10)
            revy_exclude = ("titel",)

            class Meta:
                app_label = "testapp"


# Idempotence


def test_registering_again_with_the_same_options_is_a_no_op() -> None:
    assert revy.register(User, exclude=["password"]) is User
    assert revy.register(User, exclude=("password", "password")) is User
    assert revy.register(exclude=["password"])(User) is User


# Registered models


@pytest.mark.django_db
def test_registered_user_is_tracked_and_its_password_never_recorded() -> None:
    with Context():
        user = User.objects.create_user("ann", password="first secret")
        user.set_password("second secret")
        user.first_name = "Ann"
        user.save()
        user.delete()

    assert [d.action for d in ObjectDelta.objects.order_by("pk")] == [
        ObjectDelta.ACTION_CREATE,
        ObjectDelta.ACTION_UPDATE,
        ObjectDelta.ACTION_DELETE,
    ]
    assert "username" in recorded_fields(User)
    assert not AttributeDelta.objects.filter(field_name="password").exists()
    stored = AttributeDelta.objects.values_list("old_value", "new_value")
    assert not any("secret" in str(value) or "pbkdf2" in str(value) for pair in stored for value in pair)
    update = ObjectDelta.objects.get(action=ObjectDelta.ACTION_UPDATE)
    assert [a.field_name for a in update.attribute_deltas.all()] == ["first_name"]


@pytest.fixture(autouse=True)
def _forget_models_made_here() -> Iterator[None]:
    """Models a test makes leave revy's registry with it (``revy_baseline`` walks that registry)."""
    registered = dict(specs._specs)
    yield
    specs._specs.clear()
    specs._specs.update(registered)


@pytest.fixture
def fresh_tables() -> Iterator[list[type[models.Model]]]:
    """Models made in the test get their tables here, dropped afterwards."""
    made: list[type[models.Model]] = []
    yield made
    with connection.schema_editor() as editor:
        for model in made:
            editor.delete_model(model)


@pytest.mark.django_db(transaction=True)
@isolate_apps("tests.testapp")
def test_register_as_decorator_with_and_without_options(fresh_tables: list[type[models.Model]]) -> None:
    @revy.register
    class Gadget(models.Model):
        name = models.CharField(max_length=20)

        class Meta:
            app_label = "testapp"

    @revy.register(fields=["name"])
    class Widget(models.Model):
        name = models.CharField(max_length=20)
        internal = models.CharField(max_length=20, default="")

        class Meta:
            app_label = "testapp"

    @revy.register(exclude=["token"])
    class Account(models.Model):
        handle = models.CharField(max_length=20, primary_key=True)
        token = models.CharField(max_length=20, default="")

        class Meta:
            app_label = "testapp"

    with connection.schema_editor() as editor:
        for model in (Gadget, Widget, Account):
            editor.create_model(model)
            fresh_tables.append(model)

    with Context():
        Gadget.objects.create(name="g")
        Widget.objects.create(name="w", internal="i")
        Account.objects.create(handle="ann", token="t")

    assert recorded_fields(Gadget) == {"id", "name"}
    assert recorded_fields(Widget) == {"id", "name"}  # the pk always comes along
    assert recorded_fields(Account) == {"handle"}
    assert revy.register(Widget, fields=["name"]) is Widget


@pytest.mark.django_db(transaction=True)
@isolate_apps("tests.testapp")
def test_tracked_model_options_choose_the_recorded_fields(fresh_tables: list[type[models.Model]]) -> None:
    class Note(RevyTrackedModel):
        title = models.CharField(max_length=20)
        body = models.TextField(default="")
        revy_fields = ("title",)

        class Meta:
            app_label = "testapp"

    with connection.schema_editor() as editor:
        editor.create_model(Note)
        fresh_tables.append(Note)

    with Context():
        note = Note.objects.create(title="t", body="b")
        note.body = "only the body"
        note.save()

    assert recorded_fields(Note) == {"id", "title"}
    assert ObjectDelta.objects.count() == 1


# System checks


def check_ids() -> set[str]:
    return {message.id for message in checks.run_checks() if message.id and message.id.startswith("revy.")}


@pytest.mark.django_db(databases=["default", "other"])  # Django 6 checks read every database
def test_default_configuration_passes_the_checks() -> None:
    assert check_settings() == []
    assert check_ids() == set()


@pytest.mark.django_db(databases=["default", "other"])
@override_settings(REVY_OBJECT_DELTA_MODEL="testapp.Missing")
def test_swapped_model_that_does_not_exist_is_reported() -> None:
    assert check_ids() == {"revy.E002"}
    (error,) = check_settings()
    assert "REVY_OBJECT_DELTA_MODEL = 'testapp.Missing' names no installed model" in error.msg


@override_settings(REVY_ATTRIBUTE_DELTA_MODEL="testapp.Author")
def test_swapped_model_not_built_from_the_abstract_base_is_reported() -> None:
    (error,) = check_settings()
    assert error.id == "revy.E003"
    assert "AbstractAttributeDelta" in error.msg


@override_settings(REVY_JSON_ENCODER="tests.nowhere.Encoder")
def test_json_encoder_that_cannot_be_imported_is_reported() -> None:
    (error,) = check_settings()
    assert error.id == "revy.E004"
