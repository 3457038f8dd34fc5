"""Stored values read back exactly through ``field.to_python(stored)`` (contract §3)."""

from __future__ import annotations

import datetime
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils.translation import gettext_lazy

from revy import Context, EncodingError
from revy.contrib.django.models import AttributeDelta
from revy.contrib.django.values import RevyJSONEncoder
from revy.contrib.django.writer import PLAIN_JSON
from tests.testapp.models import Category, Organization, Record, Tag

PLUS_FIVE_THIRTY = datetime.timezone(datetime.timedelta(hours=5, minutes=30))

CASES: list[tuple[str, Any]] = [
    ("title", "plain"),
    ("title", 'ünïcode ✓ "quoted" \\ back'),
    ("body", ""),
    ("count", -2147483648),
    ("big", 2**62),
    ("ratio", 0.1),
    ("ratio", -1.5e-300),
    ("price", Decimal("12345678.9012")),
    ("price", Decimal("-0.0001")),
    ("price", Decimal("0.0000")),
    ("active", False),
    ("flag", True),
    ("flag", None),
    ("day", datetime.date(1, 1, 1)),
    ("day", datetime.date(9999, 12, 31)),
    ("moment", datetime.datetime(2024, 3, 31, 2, 30, 0, 1, tzinfo=datetime.UTC)),
    ("moment", datetime.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=PLUS_FIVE_THIRTY)),
    ("clock", datetime.time(0, 0)),
    ("clock", datetime.time(23, 59, 59, 999999)),
    ("span", datetime.timedelta(0)),
    ("span", datetime.timedelta(days=-3, seconds=5, microseconds=7)),
    ("span", datetime.timedelta(days=999, hours=23, microseconds=1)),
    ("token", uuid.UUID("0b5f3c1e-2a4d-4c6e-8f10-1a2b3c4d5e6f")),
    ("data", {"nested": {"list": [1, "two", 3.5, None, False]}, "ключ": "значение"}),
    ("data", [1, 2, 3]),
    ("data", "a JSON string"),
    ("blob", b""),
    ("blob", bytes(range(256))),
    ("ip", "192.0.2.1"),
    ("ip", "2001:db8::ff00:42:8329"),
]


def stored_value(field_name: str) -> Any:
    return AttributeDelta.objects.get(field_name=field_name).new_value


@pytest.mark.django_db
@pytest.mark.parametrize(("field_name", "value"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_stored_value_reads_back_exactly_through_to_python(field_name: str, value: Any) -> None:
    field = Record._meta.get_field(field_name)
    with Context():
        Record.objects.create(**{"title": "t", field_name: value})
    assert field.to_python(stored_value(field_name)) == value
    if value is not None:
        assert type(field.to_python(stored_value(field_name))) is type(value) or field_name == "blob"


TRICKY_TEXTS = ["", "NULL", "null", 'a "quoted" word', "back\\slash\\", "{a,b}", " spaced ", "ünïcode ✓", "\\N"]


@pytest.mark.django_db
def test_text_deleted_together_reads_back_exactly() -> None:
    # Many objects' deltas go in one INSERT, their values as arrays on PostgreSQL.
    with Context.as_disabled():
        for text in TRICKY_TEXTS:
            Record.objects.create(title=text, body=text)
    with Context():
        Record.objects.all().delete()
    stored = AttributeDelta.objects.filter(field_name__in=["title", "body"]).values_list("old_value", flat=True)
    assert sorted(stored) == sorted(TRICKY_TEXTS * 2)


@pytest.mark.django_db
def test_bytes_are_stored_as_standard_base64() -> None:
    with Context():
        Record.objects.create(title="t", blob=b"\xde\xad\xbe\xef")
    assert stored_value("blob") == "3q2+7w=="
    assert bytes(Record._meta.get_field("blob").to_python("3q2+7w==")) == b"\xde\xad\xbe\xef"


@pytest.mark.django_db
def test_aware_datetime_reads_back_aware_and_the_same_instant() -> None:
    moment = datetime.datetime(2024, 6, 1, 12, 0, 0, 500, tzinfo=PLUS_FIVE_THIRTY)
    with Context():
        Record.objects.create(title="t", moment=moment)
    restored = Record._meta.get_field("moment").to_python(stored_value("moment"))
    assert restored.utcoffset() == datetime.timedelta(hours=5, minutes=30)
    assert restored == moment


@pytest.mark.django_db
@override_settings(USE_TZ=False)
def test_naive_datetime_reads_back_naive_without_time_zone_support() -> None:
    moment = datetime.datetime(2024, 6, 1, 12, 0, 0, 500)
    with Context():
        Record.objects.create(title="t", moment=moment)
    assert stored_value("moment") == "2024-06-01T12:00:00.000500"
    restored = Record._meta.get_field("moment").to_python(stored_value("moment"))
    assert restored == moment
    assert restored.tzinfo is None


@pytest.mark.django_db
def test_foreign_key_ids_of_int_uuid_and_string_pks_read_back_exactly() -> None:
    category = Category.objects.create(name="c")
    organization = Organization.objects.create(name="o")
    tag = Tag.objects.create(code="007")  # digits, yet a string pk
    with Context():
        Record.objects.create(title="t", category=category, organization=organization, tag=tag)
    for name, expected in (("category", category.pk), ("organization", organization.pk), ("tag", "007")):
        field = Record._meta.get_field(name)
        assert field.to_python(stored_value(name)) == expected
    assert stored_value("tag") == "007"


@pytest.mark.django_db
def test_values_loaded_from_the_database_read_back_as_loaded() -> None:
    """Old values come from the database driver (memoryview, Decimal scale, UTC), not from user input."""
    pk = Record.objects.create(
        title="t",
        price=Decimal("1.5"),
        moment=datetime.datetime(2024, 1, 1, tzinfo=PLUS_FIVE_THIRTY),
        blob=b"\x00\x01",
        span=datetime.timedelta(microseconds=1),
        clock=datetime.time(1, 2, 3, 4),
    ).pk
    loaded = Record.objects.get(pk=pk)
    with Context():
        Record.objects.get(pk=pk).delete()
    for delta in AttributeDelta.objects.all():
        field = Record._meta.get_field(delta.field_name)
        restored = field.to_python(delta.old_value)
        expected = getattr(loaded, field.attname)
        if field.name == "blob":
            restored, expected = bytes(restored), bytes(expected)
        assert restored == expected, field.name


def test_encoder_writes_what_json_lacks_as_strings() -> None:
    encode = RevyJSONEncoder().encode
    assert encode(Decimal("1.10")) == '"1.10"'
    assert encode(datetime.timedelta(hours=-1)) == '"-P0DT01H00M00S"'
    assert encode(uuid.UUID(int=1)) == '"00000000-0000-0000-0000-000000000001"'
    assert encode(memoryview(b"ab")) == encode(bytearray(b"ab")) == encode(b"ab") == '"YWI="'
    assert encode(gettext_lazy("lazy text")) == '"lazy text"'
    assert json.loads(encode({"when": datetime.date(2024, 1, 2)})) == {"when": "2024-01-02"}


def test_encoder_refuses_what_no_field_could_read_back() -> None:
    with pytest.raises(TypeError):
        RevyJSONEncoder().encode({1, 2})
    with pytest.raises(TypeError):
        RevyJSONEncoder().encode(object())


class NoDecimalsEncoder(RevyJSONEncoder):
    """Stores Decimals as floats, to show the encoder is configurable."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return float(o)
        return super().default(o)


@pytest.mark.django_db
@override_settings(REVY_JSON_ENCODER="tests.test_encoding.NoDecimalsEncoder")
def test_configured_encoder_is_used() -> None:
    with Context():
        Record.objects.create(title="t", price=Decimal("2.5"))
    assert stored_value("price") == 2.5


@pytest.mark.parametrize(
    "value",
    [
        "",
        'ünïcode ✓ "quoted" \\ \n\t\x00 \U0001f600',
        0,
        -7,
        2**100,
        True,
        False,
        Decimal("9.99"),
        Decimal("-1E+2"),
        Decimal("NaN"),
        datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
        datetime.datetime(2024, 1, 1),
        datetime.date(2024, 2, 29),
        datetime.time(7, 5, 3, 1),
    ],
)
def test_values_written_without_the_encoder_are_written_as_it_writes_them(value: Any) -> None:
    assert PLAIN_JSON[type(value)](value) == RevyJSONEncoder().encode(value)


class ShoutingEncoder(RevyJSONEncoder):
    """Upper-cases strings, to show a subclass of revy's encoder is given every value."""

    def encode(self, o: Any) -> str:
        return super().encode(o.upper() if isinstance(o, str) else o)


@pytest.mark.django_db
@override_settings(REVY_JSON_ENCODER="tests.test_encoding.ShoutingEncoder")
def test_a_subclass_of_revys_encoder_is_given_plain_values_too() -> None:
    with Context():
        Record.objects.create(title="quiet")
    assert stored_value("title") == "QUIET"


class StrictEncoder(json.JSONEncoder):
    """Knows nothing beyond plain JSON."""


@pytest.mark.django_db
@override_settings(REVY_JSON_ENCODER="tests.test_encoding.StrictEncoder")
def test_value_the_configured_encoder_cannot_store_names_model_and_field() -> None:
    with (
        Context(),
        pytest.raises(EncodingError, match=r"testapp\.Record\.price .*REVY_JSON_ENCODER"),
        transaction.atomic(),
    ):
        Record.objects.create(title="t", price=Decimal("2.5"))
    assert not Record.objects.exists()
    assert not AttributeDelta.objects.exists()


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_float_json_has_no_number_for_is_stored_as_a_word_float_reads_back(value: float) -> None:
    stored = json.loads(RevyJSONEncoder().encode(value))
    assert Record._meta.get_field("ratio").to_python(stored) == value


def test_nan_is_stored_as_a_word_float_reads_back() -> None:
    stored = json.loads(RevyJSONEncoder().encode(float("nan")))
    assert stored == "nan"
    assert math.isnan(Record._meta.get_field("ratio").to_python(stored))
