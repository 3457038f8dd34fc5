"""django-pghistory's twins (PostgreSQL only): triggers record inserts, updates and deletes."""

from __future__ import annotations

import pghistory
from django.db import models

from benchmarks.benchapp.models import ChildFields, ItemFields, ParentFields


def events() -> tuple[pghistory.RowEvent, ...]:
    # Trackers are bound to the model they decorate, so each model gets its own.
    return (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())


@pghistory.track(*events())
class PhItem(ItemFields):
    pass


@pghistory.track(*events())
class PhParent(ParentFields):
    pass


@pghistory.track(*events())
class PhChild(ChildFields):
    parent = models.ForeignKey(PhParent, models.CASCADE, related_name="children")
