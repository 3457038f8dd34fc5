"""A field's value to the JSON an attribute delta stores, and back, through the field itself.

Values are stored as Django's serializers store them: a value of a type
JSON or revy's encoder writes exactly (``None``, text, numbers, booleans,
``Decimal``, dates and times) as it is, any other through the field's own
``value_to_string()`` (a file's name, bytes in base64, a UUID's canonical
form, a custom field's text). Reading back is the field's ``to_python()``,
so every field type Django ships and every custom field that follows
Django's serializer contract round-trips without a special case.
``REVY_JSON_ENCODER`` writes what is left: the contents of ``JSONField``
values, and protected types.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import uuid
from functools import cache
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.duration import duration_iso_string
from django.utils.encoding import is_protected_type
from django.utils.functional import Promise

# Types whose values are stored as they are (what a JSON column holds, or the encoder writes exactly).
PLAIN = frozenset({type(None), str, int, bool, float})


class RevyJSONEncoder(json.JSONEncoder):
    """Writes what ``json`` cannot as strings that fields read back exactly."""

    def encode(self, o: Any) -> str:
        if isinstance(o, float) and not math.isfinite(o):
            # json would write NaN or Infinity, which no JSON column accepts.
            return f'"{o!r}"'
        return super().encode(o)

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime | datetime.date | datetime.time):
            return o.isoformat()
        if isinstance(o, datetime.timedelta):
            return duration_iso_string(o)
        if isinstance(o, decimal.Decimal | uuid.UUID | Promise):
            return str(o)
        if isinstance(o, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(o)).decode("ascii")
        return super().default(o)


@cache
def fields_by_name(model: type[models.Model]) -> dict[str, models.Field]:
    """The concrete fields of ``model`` by name."""
    return {field.name: field for field in model._meta.concrete_fields}


def attname_value(field: models.Field, value: Any) -> Any:
    """``value`` as the field's attname holds it once saved: a related instance given for a key is its key.

    Django itself accepts ``publisher_id = publisher`` (``update_or_create``
    does it with ``defaults={"publisher_id": publisher}``) and writes the key.
    """
    if field.remote_field is not None and isinstance(value, models.Model):
        return getattr(value, field.target_field.attname)  # type: ignore[attr-defined]
    return value


def storable(field: models.Field, value: Any) -> Any:
    """What is stored as JSON for ``value`` of ``field``, as Django's serializers would write it."""
    if type(value) in PLAIN:
        return value
    value = attname_value(field, value)
    # Durations too: revy has always written them in ISO 8601, which to_python() reads.
    if is_protected_type(value) or isinstance(value, datetime.timedelta):
        return value
    # value_to_string() takes an object to read the value from, as serializers give it the instance.
    return field.value_to_string(SimpleNamespace(**{field.attname: value}))  # type: ignore[arg-type]


# Fields whose to_python() gives back a stored value of this type as it is: skipping the call for
# them took building a snapshot of the bench's model from 16 to 14 µs (timeit).
LOADED_AS_IS = {
    models.CharField.to_python: str,
    models.TextField.to_python: str,
    models.IntegerField.to_python: int,
    models.BooleanField.to_python: bool,
}


def from_stored(field: models.Field, value: Any) -> Any:
    """The value ``field`` holds for the stored (JSON-decoded) ``value``, as if loaded from the database."""
    if type(value) is LOADED_AS_IS.get(type(field).to_python):
        return value
    value = field.to_python(value)
    if isinstance(field, models.BinaryField) and value is not None:
        # to_python() gives a memoryview; every supported backend loads bytes.
        return bytes(value)
    if (
        isinstance(value, datetime.datetime)
        and isinstance(field, models.DateTimeField)
        and settings.USE_TZ
        and timezone.is_naive(value)
    ):
        # Django saved a naive datetime as local time of the default time zone.
        return timezone.make_aware(value)
    return value
