"""``manage.py revy_history app_label.Model PK``: one object's history as a table in the terminal."""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, models
from django.utils import timezone

from revy.contrib.django import conf
from revy.contrib.django.actors import DeletedActor, actors_of
from revy.contrib.django.models import get_object_delta_model
from revy.contrib.django.records import read_records, revision_descriptions
from revy.contrib.django.specs import spec_for
from revy.contrib.django.values import storable

HEADER = ("when", "revision", "action", "field", "old", "new", "by")


def name_of(actor: Any) -> str:
    if actor is None:
        return "the system"
    if isinstance(actor, DeletedActor):
        return f"{actor.label} (deleted)"
    return str(actor)


def shown(field: models.Field | None, value: Any) -> str:
    """A value as revy stored it (JSON): through the field when the model still tracks it."""
    if value is None:
        return "-"
    return json.dumps(value if field is None else storable(field, value), ensure_ascii=False, cls=conf.json_encoder())


class Command(BaseCommand):
    help = "Print one object's history, newest first: each change, field by field, with who made it and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("label", metavar="app_label.Model")
        parser.add_argument("pk", help="the object's primary key (also of an object deleted since)")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument("--limit", type=int, default=50, help="how many changes to print (newest first)")

    def handle(self, *args: Any, label: str, pk: str, database: str, limit: int, **options: Any) -> None:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError) as error:
            raise CommandError(f"{error} Name the model as app_label.Model.") from error
        if spec_for(model) is None:
            raise CommandError(f"{model._meta.label} is not tracked by revy.")
        try:
            key = model._meta.pk.to_python(pk)
        except Exception as error:
            raise CommandError(f"{pk!r} is not a primary key of {model._meta.label}: {error}") from error
        rows = self.table(model, key, database, limit)
        if not rows:
            self.stdout.write(f"{model._meta.label} {pk}: no history recorded.")
            return
        current = model._base_manager.using(database).filter(pk=key).first()
        self.stdout.write(f"{model._meta.label} {pk}: {current if current is not None else '(deleted)'}")
        widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
        for row in [HEADER, *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

    def table(self, model: Any, key: Any, database: str, limit: int) -> list[tuple[str, ...]]:
        """One row per changed field, the delta's own cells on its first row only."""
        deltas = get_object_delta_model().objects.using(database).for_object(model(pk=key))
        records = read_records(deltas[:limit])
        revisions = revision_descriptions(records, database)
        actors = actors_of(records, database)
        spec = spec_for(model)
        assert spec is not None
        fields = {f.name: f for f in spec.fields}
        rows: list[tuple[str, ...]] = []
        for record in records:
            actor = actors[(record.actor_content_type_id, record.actor_id)]
            revision = f"{record.revision_id} {revisions.get(record.revision_id, '')}".strip()
            about = f": {record.description}" if record.description else ""
            cells: tuple[str, ...] = (
                timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                revision,
                record.get_action_display(),
            )
            for name, change in record.changes.items():
                by = actors[(change.actor_content_type_id, change.actor_id)]
                why = f": {change.description}" if change.description else about
                field = fields.get(name)
                rows.append((*cells, name, shown(field, change.old), shown(field, change.new), f"{name_of(by)}{why}"))
                cells = ("", "", "")
            if cells[0]:  # a delta without fields
                rows.append((*cells, "", "", "", f"{name_of(actor)}{about}"))
        return rows
