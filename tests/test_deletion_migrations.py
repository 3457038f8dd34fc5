"""Migrations write revy's deletion handlers by revy's import path and find nothing new to write."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import models
from django.db.migrations.writer import MigrationWriter

from revy.contrib.django.models import CASCADE, SET, SET_DEFAULT, SET_NULL
from tests.testapp.models import Author, fallback_author

PATH = "revy.contrib.django.deletion"
HANDLERS = {
    "CASCADE": (CASCADE, f"{PATH}.CASCADE"),
    "SET_NULL": (SET_NULL, f"{PATH}.SET_NULL"),
    "SET_DEFAULT": (SET_DEFAULT, f"{PATH}.SET_DEFAULT"),
    "SET(callable)": (SET(fallback_author), f"{PATH}.SET(tests.testapp.models.fallback_author)"),
    "SET(value)": (SET(7), f"{PATH}.SET(7)"),
}


def load(serialized: str, imports: set[str]) -> Any:
    """What a migration file holding ``serialized`` and ``imports`` would build."""
    namespace: dict[str, Any] = {}
    exec("\n".join(sorted(imports)), namespace)
    return eval(serialized, namespace)


def same_handler(loaded: Any, handler: Any) -> bool:
    # SET() builds a new function on every call; migrations compare what it deconstructs to.
    if hasattr(handler, "deconstruct"):
        return loaded.deconstruct() == handler.deconstruct()  # type: ignore[no-any-return]
    return loaded is handler


@pytest.mark.django_db
def test_makemigrations_finds_no_change_in_models_using_revy_handlers():
    call_command("makemigrations", "testapp", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize("name", list(HANDLERS))
def test_handler_serializes_by_revys_import_path_and_loads_back(name):
    handler, expected = HANDLERS[name]
    serialized, imports = MigrationWriter.serialize(handler)
    assert serialized == expected
    assert f"import {PATH}" in imports
    assert same_handler(load(serialized, imports), handler)


@pytest.mark.parametrize("name", list(HANDLERS))
def test_foreign_key_with_handler_serializes_and_loads_back(name):
    handler, expected = HANDLERS[name]
    field = models.ForeignKey(Author, on_delete=handler, null=True, default=None)
    serialized, imports = MigrationWriter.serialize(field)
    assert f"on_delete={expected}," in serialized
    loaded = load(serialized, imports)
    *_, kwargs = loaded.deconstruct()
    *_, expected_kwargs = field.deconstruct()
    assert same_handler(kwargs.pop("on_delete"), expected_kwargs.pop("on_delete"))
    assert kwargs == expected_kwargs
