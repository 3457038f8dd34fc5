"""``manage.py revy_baseline``: record the rows that existed before tracking began."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, models, transaction

from revy.context import Context
from revy.contrib.django import writer
from revy.contrib.django.actions import CREATE as ACTION_CREATE
from revy.contrib.django.actions import SET as ACTION_SET
from revy.contrib.django.content_types import content_type_of
from revy.contrib.django.m2m import members_now
from revy.contrib.django.models import get_object_delta_model
from revy.contrib.django.specs import spec_for, tracked_models
from revy.contrib.django.writer import AttributeEntry, ObjectEntry

DESCRIPTION = "revy baseline"


class Command(BaseCommand):
    help = (
        "Record a CREATE-like baseline delta for every row of tracked models that has no delta "
        "yet, with its fields and the members of its recorded many-to-many relations, so snapshots "
        "and members() of its later deltas are complete. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "labels", nargs="*", metavar="app_label.Model", help="models to baseline (default: every tracked model)"
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument("--chunk-size", type=int, default=1000, help="rows read and written per transaction")

    def handle(self, *args: Any, labels: list[str], database: str, chunk_size: int, **options: Any) -> None:
        try:
            chosen = [apps.get_model(label) for label in labels] or tracked_models()
        except (LookupError, ValueError) as error:
            raise CommandError(f"{error} Name models as app_label.Model.") from error
        for model in chosen:
            if spec_for(model) is None:
                raise CommandError(f"{model._meta.label} is not tracked by revy.")
        with Context.via(revision_description=DESCRIPTION):
            for model in chosen:
                count = record_baseline(model, database, chunk_size)
                self.stdout.write(f"{model._meta.label}: {count} rows recorded")


def record_baseline(model: type[models.Model], using: str, chunk_size: int) -> int:
    """Write a baseline for the rows of ``model`` without delta, chunk by chunk; how many were written."""
    spec = spec_for(model)
    assert spec is not None
    content_type_id = content_type_of(spec.model, using).pk
    deltas = get_object_delta_model()._base_manager.using(using).filter(content_type_id=content_type_id)
    rows = spec.model._base_manager.using(using).only(*(f.attname for f in spec.fields)).order_by("pk")
    written = 0
    last_pk = None
    while True:
        chunk = list((rows if last_pk is None else rows.filter(pk__gt=last_pk))[:chunk_size])
        if not chunk:
            return written
        last_pk = chunk[-1].pk
        recorded = set(
            deltas.filter(content_id__in=[str(row.pk) for row in chunk]).values_list("content_id", flat=True)
        )
        entries = [
            ObjectEntry(
                spec.model,
                row.pk,
                ACTION_CREATE,
                None,
                DESCRIPTION,
                [
                    AttributeEntry(f.name, ACTION_SET, None, DESCRIPTION, None, getattr(row, f.attname))
                    for f in spec.fields
                ],
            )
            for row in chunk
            if str(row.pk) not in recorded
        ]
        # The members each row has now, as a membership that joined with the baseline.
        for side, members in members_now(spec.model, [entry.pk for entry in entries], using) if entries else ():
            for entry in entries:
                entry.attributes += [
                    AttributeEntry(side.name, ACTION_SET, None, DESCRIPTION, None, member)
                    for member in sorted(members.get(entry.pk, ()), key=str)
                ]
        with transaction.atomic(using=using):
            writer.write(using, entries)
        written += len(entries)
