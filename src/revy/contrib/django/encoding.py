"""How field values become JSON, and back.

Values are stored as the field's ``attname`` value (a foreign key as its id).
What JSON has no type for is written as a string the field's own
``to_python()`` reads back exactly: ``Decimal`` as its digits, dates and times
in ISO 8601 with microseconds and offset, ``timedelta`` as ISO 8601
duration, ``UUID`` in its canonical form, bytes (``BinaryField``) as
standard base64, and a float JSON has no number for (``nan``, ``inf``,
``-inf``, which PostgreSQL stores in a ``FloatField``) as that word.
Reading a value back is ``field.to_python(stored)``.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import uuid
from typing import Any

from django.utils.duration import duration_iso_string
from django.utils.functional import Promise


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
