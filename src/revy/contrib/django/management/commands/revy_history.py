"""``manage.py revy_history app_label.Model PK``: one object's history as a table in the terminal."""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Prefetch
from django.utils import timezone

from revy.contrib.django.actors import DeletedActor, load_actors
from revy.contrib.django.models import get_attribute_delta_model, get_object_delta_model
from revy.contrib.django.specs import spec_for

HEADER = ("when", "revision", "action", "field", "old", "new", "by")


def name_of(actor: Any) -> str:
    if actor is None:
        return "the system"
    if isinstance(actor, DeletedActor):
        return f"{actor.label} (deleted)"
    return str(actor)


def shown(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False)


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
        attributes = get_attribute_delta_model()._base_manager.order_by("pk")
        deltas = list(
            get_object_delta_model()
            .objects.using(database)
            .for_object(model(pk=key))
            .select_related("revision")
            .prefetch_related(Prefetch("attribute_deltas", queryset=attributes, to_attr="field_deltas"))[:limit]
        )
        keys = [(d.actor_content_type_id, d.actor_id, d.actor_label) for d in deltas]
        keys += [(a.actor_content_type_id, a.actor_id, a.actor_label) for d in deltas for a in d.field_deltas]
        actors = load_actors(keys, database)
        rows: list[tuple[str, ...]] = []
        for delta in deltas:
            actor = actors[(delta.actor_content_type_id, delta.actor_id)]
            revision = f"{delta.revision_id} {delta.revision.description}".strip()
            about = f": {delta.description}" if delta.description else ""
            cells: tuple[str, ...] = (
                timezone.localtime(delta.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                revision,
                delta.get_action_display(),
            )
            for attribute in delta.field_deltas:
                by = actors[(attribute.actor_content_type_id, attribute.actor_id)]
                why = f": {attribute.description}" if attribute.description else about
                new = attribute.new_value if attribute.action == attribute.ACTION_SET else None
                rows.append(
                    (*cells, attribute.field_name, shown(attribute.old_value), shown(new), f"{name_of(by)}{why}")
                )
                cells = ("", "", "")
            if cells[0]:  # a delta without fields
                rows.append((*cells, "", "", "", f"{name_of(actor)}{about}"))
        return rows
