"""What bulk writes record: revy's queryset signals (``revy.signals``) turned into deltas.

Connected per tracked model (and proxy of one), as the save receivers are.
Each write's deltas go to the writer in one call, which inserts them in
chunks: the statements grow with the number of chunks, not of rows.

``bulk_create()``
    A CREATE per object with every tracked field, as a ``save()`` records
    it. Values the database computed (a ``db_default``, an expression) are
    read back, once for all the objects.

``bulk_update()``
    The rows' values before the write are read once (``SELECT ... FOR
    UPDATE`` where the database has it), in chunks of Django's batch size;
    an UPDATE per object records the fields whose value changed. Values
    given as expressions are read back after the write.

``QuerySet.update()``
    The old values of the rows the queryset selects are read in one
    ``SELECT ... FOR UPDATE`` (a plain ``SELECT`` on SQLite, whose writes
    lock the whole database anyway), so no concurrent writer slips between
    that read and the write. New values are the ones given, read back only
    for fields given an expression (``F()``, ``Case``/``When``, functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models

from revy import signals
from revy.context import Context
from revy.contrib.django import writer
from revy.contrib.django.actions import CREATE as ACTION_CREATE
from revy.contrib.django.actions import SET as ACTION_SET
from revy.contrib.django.actions import UPDATE as ACTION_UPDATE
from revy.contrib.django.specs import ATTRIBUTION_ATTRIBUTE, TRACKER_NAME, TrackingSpec, spec_for
from revy.contrib.django.writer import AttributeEntry, ObjectEntry

PLAN_ATTRIBUTE = "_revy_bulk_plan"


def connect(model: type[models.Model]) -> None:
    """Record the bulk writes of ``model`` (a tracked model or a proxy of one) made through revy's querysets."""
    uid = f"revy:{model._meta.label}"
    signals.post_bulk_create.connect(record_bulk_create, sender=model, weak=False, dispatch_uid=uid)
    signals.pre_bulk_update.connect(plan_bulk_update, sender=model, weak=False, dispatch_uid=uid)
    signals.post_bulk_update.connect(record_bulk_update, sender=model, weak=False, dispatch_uid=uid)
    signals.pre_update.connect(plan_update, sender=model, weak=False, dispatch_uid=uid)
    signals.post_update.connect(record_update, sender=model, weak=False, dispatch_uid=uid)


@dataclass
class UpdatePlan:
    """What a bulk update or ``update()`` changes: its tracked fields and the rows' values before it."""

    fields: list[models.Field]
    before: dict[Any, tuple[Any, ...]]


def is_computed(value: Any) -> bool:
    """Whether the database computes ``value`` (an expression, a ``db_default``)."""
    return hasattr(value, "resolve_expression")


def lock_rows(queryset: models.QuerySet, using: str) -> models.QuerySet:
    """``queryset`` reading with ``SELECT ... FOR UPDATE`` (of its own table only) where the database has it."""
    features = connections[using].features
    if not features.has_select_for_update or queryset.query.distinct or queryset.query.combinator:
        return queryset
    return queryset.select_for_update(of=("self",) if features.has_select_for_update_of else ())


def rows_by_pk(
    model: type[models.Model], using: str, pks: list[Any], attnames: list[str], lock: bool = False
) -> dict[Any, tuple[Any, ...]]:
    """{pk: values of ``attnames``} of the rows ``pks``, read in chunks of Django's batch size."""
    pk = model._meta.pk
    assert pk is not None
    size = connections[using].ops.bulk_batch_size([pk], pks) or len(pks) or 1
    rows: dict[Any, tuple[Any, ...]] = {}
    for start in range(0, len(pks), size):
        chunk = model._base_manager.using(using).filter(pk__in=pks[start : start + size]).order_by("pk")
        if lock:
            chunk = lock_rows(chunk, using)
        rows.update((row[0], row[1:]) for row in chunk.values_list("pk", *attnames))
    return rows


def python_value(field: models.Field, value: Any) -> Any:
    """The attname value ``field`` stores for ``value`` as given to ``update()`` (a model instance: its key)."""
    if isinstance(value, models.Model):
        return getattr(value, field.target_field.attname)  # type: ignore[attr-defined]
    return field.to_python(value)


def authors_of(instance: models.Model, fields: list[models.Field]) -> dict[str, tuple[Any, str]]:
    """Who assigned each of ``fields`` of ``instance`` (``RevyTrackedModel``), forgotten as it is recorded."""
    attribution = instance.__dict__.get(ATTRIBUTION_ATTRIBUTE)
    if not attribution:
        return {}
    return {f.attname: attribution.pop(f.attname) for f in fields if f.attname in attribution}


def note_saved(instance: models.Model, known: list[str], unknown: list[str]) -> None:
    """Tell the instance's tracker what its row now holds (attnames), so its next ``save()`` records from there."""
    tracker = getattr(instance, "_" + TRACKER_NAME)
    tracker.set_saved_fields(fields=known)
    for attname in unknown:  # the next save reads them from the row
        tracker.saved_data.pop(attname, None)


def saved_attnames(fields: list[models.Field], computed: list[models.Field]) -> tuple[list[str], list[str]]:
    """The attnames of ``fields`` whose values the instances hold, and of those the database computed."""
    unknown = [f.attname for f in computed]
    return [f.attname for f in fields if f.attname not in unknown], unknown


# bulk_create


def record_bulk_create(sender: type[models.Model], objects: list[models.Model], using: str, **kwargs: Any) -> None:
    spec = spec_for(sender)
    assert spec is not None
    fields = list(spec.fields)
    computed = [
        f
        for f in fields
        if any(f.attname not in obj.__dict__ or is_computed(obj.__dict__[f.attname]) for obj in objects)
    ]
    read = rows_by_pk(spec.model, using, [obj.pk for obj in objects], [f.attname for f in computed]) if computed else {}
    actor = Context.get_actor()
    object_description = Context.get_object_delta_description()
    author = (actor, Context.get_attribute_delta_description())
    known, unknown = saved_attnames(fields, computed)
    entries = []
    for obj in objects:
        values = obj.__dict__
        if computed:
            values = {**values, **dict(zip((f.attname for f in computed), read[obj.pk], strict=True))}
        authors = authors_of(obj, fields)
        entries.append(
            ObjectEntry(
                spec.model,
                obj.pk,
                ACTION_CREATE,
                actor,
                object_description,
                [
                    AttributeEntry(f.name, ACTION_SET, *authors.get(f.attname, author), None, values[f.attname])
                    for f in fields
                ],
            )
        )
        note_saved(obj, known, unknown)
    writer.write(using, entries)


# bulk_update


def plan_bulk_update(
    sender: type[models.Model],
    objects: list[models.Model],
    fields: list[models.Field],
    using: str,
    queryset: models.QuerySet,
    **kwargs: Any,
) -> None:
    spec = spec_for(sender)
    assert spec is not None
    tracked = [f for f in fields if f.attname in spec.attnames]
    if tracked:
        before = rows_by_pk(spec.model, using, [obj.pk for obj in objects], [f.attname for f in tracked], lock=True)
        queryset.__dict__[PLAN_ATTRIBUTE] = UpdatePlan(tracked, before)


def record_bulk_update(
    sender: type[models.Model], objects: list[models.Model], using: str, queryset: models.QuerySet, **kwargs: Any
) -> None:
    plan: UpdatePlan | None = queryset.__dict__.pop(PLAN_ATTRIBUTE, None)
    if plan is None:
        return
    spec = spec_for(sender)
    assert spec is not None
    computed = [f for f in plan.fields if any(is_computed(obj.__dict__.get(f.attname)) for obj in objects)]
    after = (
        rows_by_pk(spec.model, using, list(plan.before), [f.attname for f in computed]) if computed else {}
    )
    known, unknown = saved_attnames(plan.fields, computed)
    entries = []
    recorded = set()
    for obj in objects:
        if obj.pk not in plan.before or obj.pk in recorded:
            continue  # no such row, or the same object twice: Django wrote its first values
        recorded.add(obj.pk)
        new = {f.attname: obj.__dict__.get(f.attname) for f in plan.fields}
        if computed:
            new.update(zip((f.attname for f in computed), after[obj.pk], strict=True))
        authors = authors_of(obj, plan.fields)
        entry = update_entry(spec, obj.pk, plan.fields, plan.before[obj.pk], new, authors)
        if entry is not None:
            entries.append(entry)
        note_saved(obj, known, unknown)
    writer.write(using, entries)


def update_entry(
    spec: TrackingSpec,
    pk: Any,
    fields: list[models.Field],
    old: tuple[Any, ...],
    new: dict[str, Any],
    authors: dict[str, tuple[Any, str]],
) -> ObjectEntry | None:
    """The UPDATE of one row, with the fields whose value changed; None when none did."""
    actor = Context.get_actor()
    description = Context.get_attribute_delta_description()
    attributes = [
        AttributeEntry(f.name, ACTION_SET, *authors.get(f.attname, (actor, description)), before, new[f.attname])
        for f, before in zip(fields, old, strict=True)
        if before != new[f.attname]
    ]
    if not attributes:
        return None
    return ObjectEntry(spec.model, pk, ACTION_UPDATE, actor, Context.get_object_delta_description(), attributes)


# QuerySet.update()


def plan_update(
    sender: type[models.Model], values: dict[str, Any], using: str, queryset: models.QuerySet, **kwargs: Any
) -> None:
    spec = spec_for(sender)
    assert spec is not None
    tracked: list[models.Field] = []
    for name in values:
        try:
            field = sender._meta.get_field(name)
        except FieldDoesNotExist:
            continue  # Django's update() raises its own error
        if isinstance(field, models.Field) and field.attname in spec.attnames:
            tracked.append(field)
    if not tracked:
        return
    rows = lock_rows(queryset.order_by("pk"), using).values_list("pk", *(f.attname for f in tracked))
    queryset.__dict__[PLAN_ATTRIBUTE] = UpdatePlan(tracked, {row[0]: row[1:] for row in rows})


def record_update(
    sender: type[models.Model], values: dict[str, Any], using: str, queryset: models.QuerySet, **kwargs: Any
) -> None:
    plan: UpdatePlan | None = queryset.__dict__.pop(PLAN_ATTRIBUTE, None)
    if plan is None or not plan.before:
        return
    spec = spec_for(sender)
    assert spec is not None
    given = {f.attname: values[f.name if f.name in values else f.attname] for f in plan.fields}
    computed = [f for f in plan.fields if is_computed(given[f.attname])]
    known = {f.attname: python_value(f, given[f.attname]) for f in plan.fields if f not in computed}
    after = (
        rows_by_pk(spec.model, using, list(plan.before), [f.attname for f in computed]) if computed else {}
    )
    entries = []
    for pk, old in plan.before.items():
        new = known
        if computed:
            new = {**known, **dict(zip((f.attname for f in computed), after[pk], strict=True))}
        entry = update_entry(spec, pk, plan.fields, old, new, {})
        if entry is not None:
            entries.append(entry)
    writer.write(using, entries)
