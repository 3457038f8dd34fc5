"""What happens on save and on delete: the receivers that turn changes into deltas.

Receivers are connected per tracked model (and per proxy of one), never for
every model, so untracked models keep Django's fast delete paths.

Save (``pre_save`` / ``post_save``)
    ``pre_save`` takes what the save changes and who assigned each field,
    before Django writes (and, on Django 6, reloads fields given an
    expression). ``post_save`` records it: a create every tracked field, an
    update the fields whose value differs from what the instance was loaded
    or last saved with (only those in ``update_fields`` when given). A field
    given an expression (``F("n") + 1``) is recorded with the value the
    database computed. The tracker's save is already one transaction (see
    ``tracking``), so the change and its deltas commit together.

Delete (``pre_delete`` / ``post_delete``)
    Django sends every ``pre_delete`` of a deletion before any row goes, then
    one ``post_delete`` per row, all in one transaction. ``pre_delete`` takes
    the before-image (the row still exists, so a deferred field can still be
    read) into the deletion's plan, kept on the deletion's origin and written
    in bulk every ``REVY_DELETION_CHUNK_SIZE`` objects; the last
    ``post_delete`` writes the rest.

Deletion handlers (``revy.signals``)
    revy's ``CASCADE`` marks the objects it cascades to, so their deltas are
    attributed to the system and described by ``deletion_description``;
    revy's ``SET*`` handlers add an UPDATE of the foreign key to the plan.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any

from django.db import connections, models, transaction
from django.db.models.fields import AutoFieldMixin
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from revy import signals
from revy.context import Context
from revy.contrib.django import bulk, conf, m2m, writer
from revy.contrib.django.actions import CREATE as ACTION_CREATE
from revy.contrib.django.actions import DELETE as ACTION_DELETE
from revy.contrib.django.actions import SET as ACTION_SET
from revy.contrib.django.actions import UNSET as ACTION_UNSET
from revy.contrib.django.actions import UPDATE as ACTION_UPDATE
from revy.contrib.django.tracking import (
    ATTRIBUTION_ATTRIBUTE,
    TRACKER_NAME,
    TrackingSpec,
    all_models,
    spec_for,
    tracked_models,
)
from revy.contrib.django.writer import AttributeEntry, ObjectEntry

PLAN_ATTRIBUTE = "_revy_deletion_plan"
CASCADED_ATTRIBUTE = "_revy_cascaded"
PENDING_SAVE_ATTRIBUTE = "_revy_pending_save"


def connect(model: type[models.Model]) -> None:
    """Record saves and deletes of ``model`` (a tracked model or a proxy of one)."""
    uid = f"revy:{model._meta.label}"
    pre_save.connect(plan_save, sender=model, weak=False, dispatch_uid=uid)
    post_save.connect(record_save, sender=model, weak=False, dispatch_uid=uid)
    pre_delete.connect(plan_delete, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(record_delete, sender=model, weak=False, dispatch_uid=uid)
    bulk.connect(model)
    m2m.connect(model)


def connect_deletion_targets() -> None:
    """Watch deletions of the targets of revy's SET handlers (and their proxies), tracked or not.

    Their ``post_delete`` is where the UPDATE deltas of those handlers are written.
    """
    from revy.contrib.django.deletion import SETS_FIELD

    targets = {
        field.remote_field.model
        for model in tracked_models()
        for field in model._meta.concrete_fields
        if field.remote_field is not None and getattr(field.remote_field.on_delete, SETS_FIELD, False)
    }
    for model in all_models():
        if model._meta.concrete_model in targets and spec_for(model) is None:
            uid = f"revy:{model._meta.label}"
            pre_delete.connect(plan_delete, sender=model, weak=False, dispatch_uid=uid)
            post_delete.connect(record_delete, sender=model, weak=False, dispatch_uid=uid)


# Save


class PendingSave:
    """What ``plan_save`` learnt before Django writes, for ``record_save`` (or the write itself)."""

    __slots__ = ("authors", "before", "recorded")

    def __init__(
        self, before: tuple[list[tuple[models.Field, Any]], bool] | None, authors: dict[str, tuple[Any, str]]
    ):
        # None for an INSERT; else (field, value before) of the fields written, and whether any changed.
        self.before = before
        self.authors = authors
        # The changes already recorded by the save's own statement (see OneStatementSave).
        self.recorded: list[tuple[models.Field, Any, Any]] | None = None


def plan_save(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    """Take each field's value before the save, and who assigned it, before Django writes.

    Django 6 reloads fields given an expression during the save, and a
    reload is an assignment too; the row may also be read here, before the
    write, for old values the instance does not know.
    """
    if raw or Context.is_disabled():
        return
    spec = spec_for(sender)
    assert spec is not None
    before: tuple[list[tuple[models.Field, Any]], bool] | None
    if instance._state.adding and (instance.pk is None or spec.pk_has_default):
        before = None  # an INSERT: every field is recorded once the pk is known
    else:
        # An update; or a new instance given the pk of a row, which Django updates when it exists.
        saved = {} if instance._state.adding else getattr(instance, "_" + TRACKER_NAME).saved_data
        before = values_before(spec, instance, update_fields, saved)
    authors = dict(instance.__dict__.get(ATTRIBUTION_ATTRIBUTE) or {})
    instance.__dict__[PENDING_SAVE_ATTRIBUTE] = PendingSave(before, authors)


def record_save(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool,
    using: str,
    **kwargs: Any,
) -> None:
    pending: PendingSave | None = instance.__dict__.pop(PENDING_SAVE_ATTRIBUTE, None)
    if raw or pending is None or Context.is_disabled():
        return
    if pending.recorded is not None:
        forget_attribution(instance, pending.recorded)
        return
    spec = spec_for(sender)
    assert spec is not None
    inserted = created or pending.before is None
    olds = olds_of(spec, pending, inserted)
    if olds is None:
        return
    stale = stale_fields(instance, olds)
    if stale:
        instance.refresh_from_db(using=using, fields=stale)
    changes = changes_of(instance, olds, inserted)
    writer.write(using, [save_entry(spec, instance, pending, changes, inserted)])
    forget_attribution(instance, changes)


def olds_of(spec: TrackingSpec, pending: PendingSave, inserted: bool) -> list[tuple[models.Field, Any]] | None:
    """(field, value before) of the fields a save may have changed; None when it changed nothing."""
    if inserted:
        return [(f, None) for f in spec.fields]
    assert pending.before is not None
    olds, changed = pending.before
    return olds if changed else None  # auto_now fields alone do not make a change


def stale_fields(instance: models.Model, olds: list[tuple[models.Field, Any]]) -> list[str]:
    """Fields the database computed, whose values the instance does not hold.

    F() expressions (Django 5 leaves them on the instance, Django 6 reloads or
    defers them), database defaults, auto_now.
    """
    loaded = instance.__dict__
    return [f.name for f, _ in olds if f.attname not in loaded or hasattr(loaded[f.attname], "resolve_expression")]


def changes_of(
    instance: models.Model, olds: list[tuple[models.Field, Any]], inserted: bool
) -> list[tuple[models.Field, Any, Any]]:
    loaded = instance.__dict__
    return [(f, old, loaded[f.attname]) for f, old in olds if inserted or old != loaded[f.attname]]


def save_entry(
    spec: TrackingSpec,
    instance: models.Model,
    pending: PendingSave,
    changes: list[tuple[models.Field, Any, Any]],
    inserted: bool,
) -> ObjectEntry:
    actor = Context.get_actor()
    description = Context.get_attribute_delta_description()
    return ObjectEntry(
        spec.model,
        instance.pk,
        ACTION_CREATE if inserted else ACTION_UPDATE,
        actor,
        Context.get_object_delta_description(),
        [
            AttributeEntry(f.name, ACTION_SET, *pending.authors.get(f.attname, (actor, description)), old, new)
            for f, old, new in changes
        ],
    )


def forget_attribution(instance: models.Model, changes: list[tuple[models.Field, Any, Any]]) -> None:
    """Recorded: who assigned those fields is history now."""
    attribution = instance.__dict__.get(ATTRIBUTION_ATTRIBUTE)
    if attribution:
        for f, _, _ in changes:
            attribution.pop(f.attname, None)


SCOPE_ATTRIBUTE = "_revy_save_scope"


def save_scope(instance: models.Model, using: str) -> AbstractContextManager[Any]:
    """What a tracked save runs in while revy records: one statement on PostgreSQL, else one transaction."""
    if writer.writers_for(using).in_one_statement and not instance._meta.parents and FOLDS_WRITES:
        return OneStatementSave(instance, using)
    return transaction.atomic(using=using, savepoint=False)


# Django's two methods that write a saved instance's row; tracking.py marks the time they run.
WRITE_METHODS = ("_do_insert", "_do_update")
FOLDS_WRITES = all(hasattr(models.Model, name) for name in WRITE_METHODS)


class OneStatement:
    """An execute wrapper on the connection of ``using`` for as long as a save or delete of ``instance`` runs."""

    def __init__(self, instance: models.Model, using: str):
        self.instance = instance
        self.using = using
        self.connection = connections[using]
        self.seen = False  # the statement that writes the instance's row
        self.stack = ExitStack()

    def __enter__(self) -> Any:
        self.stack.enter_context(self.connection.execute_wrapper(self))
        return self

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self.stack.__exit__(*exc_info)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        raise NotImplementedError


class OneStatementSave(OneStatement):
    """A tracked save on PostgreSQL whose deltas ride in its own statement.

    Installed as an execute wrapper around the save, it folds the save's
    deltas (and the scope's revision, when the save is its first change) into
    Django's INSERT or UPDATE of the object, with data-modifying CTEs: one
    statement, one round trip. Outside a transaction that statement commits
    by itself, as an untracked save's does; the change and its deltas succeed
    or fail together either way. It acts only while Django writes this
    instance's row (``writing``, set around ``Model._do_insert`` and
    ``_do_update``), never on what receivers of the save execute. When a save
    cannot be folded (a value the database computes, a primary key it
    assigns that is not an integer, an UPDATE that finds no row), or runs
    another statement before its write, the save runs from then on in
    ``atomic(savepoint=False)`` and ``record_save`` writes its deltas, as on
    the other databases.
    """

    def __init__(self, instance: models.Model, using: str):
        super().__init__(instance, using)
        table = self.connection.ops.quote_name(instance._meta.db_table)
        self.writes = (f"INSERT INTO {table} ", f"UPDATE {table} SET ")
        self.writing = False
        self.begun = False  # the save's transaction
        self.depth = len(self.connection.atomic_blocks)
        # Whether the change and its deltas are committed, whatever happens next in the save.
        self.committed = False

    def __enter__(self) -> OneStatementSave:
        # Inside a caller's transaction a failure anywhere in the save dooms it, as atomic() would.
        self.stack.enter_context(transaction.mark_for_rollback_on_error(self.using))
        super().__enter__()
        self.stack.callback(self.restore_scope, self.instance.__dict__.get(SCOPE_ATTRIBUTE))
        self.instance.__dict__[SCOPE_ATTRIBUTE] = self
        return self

    def restore_scope(self, outer: OneStatementSave | None) -> None:
        """Give the instance back the scope of the save this one ran inside (a receiver's save of it), if any."""
        if outer is None:
            self.instance.__dict__.pop(SCOPE_ATTRIBUTE, None)
        else:
            self.instance.__dict__[SCOPE_ATTRIBUTE] = outer

    def begin(self) -> None:
        """Run the rest of the save in one transaction (or mark the caller's for rollback if it fails)."""
        self.stack.enter_context(transaction.atomic(using=self.using, savepoint=False))
        self.begun = True

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if self.writing and not (self.seen or self.begun or many) and sql.startswith(self.writes):
            self.seen = True
            return self.fold(execute, sql, params, many, context)
        if not (self.seen or self.begun) and len(self.connection.atomic_blocks) == self.depth:
            # The save runs something else before its write (a receiver's query, a read of deferred
            # values): from here on it runs in one transaction, as on the other databases.
            self.begin()
        return execute(sql, params, many, context)

    def fold(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        """Run Django's write ``sql`` of the instance with the save's deltas, when it can carry them."""
        pending: PendingSave | None = self.instance.__dict__.get(PENDING_SAVE_ATTRIBUTE)
        spec = spec_for(type(self.instance))
        inserted = sql.startswith("INSERT")
        olds = None if pending is None or spec is None else olds_of(spec, pending, inserted)
        if olds is None:
            return execute(sql, params, many, context)  # nothing to record
        assert pending is not None and spec is not None
        change = self.change(spec, sql, params, inserted)
        if change is None or stale_fields(self.instance, olds):
            self.begin()
            return execute(sql, params, many, context)
        changes = changes_of(self.instance, olds, inserted)
        entry = save_entry(spec, self.instance, pending, changes, inserted)
        result, wrote = writer.write_with_change(
            self.using, entry, change, lambda sql, params: execute(sql, params, many, context), context["cursor"]
        )
        if wrote:
            pending.recorded = changes
            self.committed = not self.connection.in_atomic_block
        else:
            # No row to update: nothing was written. Whatever Django does next (insert the row, or raise)
            # runs in one transaction, and record_save records it.
            self.begin()
        return result

    def change(self, spec: TrackingSpec, sql: str, params: Any, inserted: bool) -> writer.Change | None:
        """Django's statement as the change of a one-statement write, or None if it cannot be one."""
        pk = spec.model._meta.pk
        assert pk is not None
        if not inserted:
            # Django 6 reads back the values of expressions an UPDATE sets: leave those alone.
            return None if " RETURNING " in sql else writer.Change(sql, list(params))
        if self.instance.pk is not None:
            return writer.Change(sql, list(params))
        returned = self.connection.ops.quote_name(writer.column_of(pk))
        if isinstance(pk, AutoFieldMixin) and pk.db_returning and f".{returned}" in sql.rpartition(" RETURNING ")[2]:
            return writer.Change(sql, list(params), returned)
        return None


def delete_scope(instance: models.Model, using: str) -> AbstractContextManager[Any]:
    """What ``instance.delete()`` runs in while revy records: on PostgreSQL, a delete that writes its deltas."""
    if writer.writers_for(using).in_one_statement and not instance._meta.parents:
        return OneStatementDelete(instance, using)
    return nullcontext()


class OneStatementDelete(OneStatement):
    """``instance.delete()`` on PostgreSQL, whose deltas ride in Django's DELETE of its row.

    Django runs a deletion in a transaction of its own once receivers listen;
    when the deletion is of this one object alone (no cascade, no keys set),
    its object delta and attribute deltas are written by the DELETE statement
    itself (data-modifying CTEs), one round trip fewer. Anything else is left
    to ``record_delete``.
    """

    def __init__(self, instance: models.Model, using: str):
        super().__init__(instance, using)
        qn = self.connection.ops.quote_name
        pk = instance._meta.pk
        assert pk is not None
        table = qn(instance._meta.db_table)
        self.sql = f"DELETE FROM {table} WHERE {table}.{qn(writer.column_of(pk))} IN (%s)"

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if self.seen or many or sql != self.sql or tuple(params) != (self.instance.pk,):
            return execute(sql, params, many, context)
        self.seen = True
        plan: DeletionPlan | None = self.instance.__dict__.get(PLAN_ATTRIBUTE)
        if (
            plan is None
            or not plan.is_running(self.using)
            or plan.updates
            or [entry.pk for entry in plan.entries] != [self.instance.pk]
        ):
            return execute(sql, params, many, context)
        result, wrote = writer.write_with_change(
            self.using,
            plan.entries[0],
            writer.Change(sql, list(params)),
            lambda sql, params: execute(sql, params, many, context),
            context["cursor"],
        )
        if wrote:  # else the row was gone already: record_delete records the delete, as before
            plan.entries = []
        return result


def values_before(
    spec: TrackingSpec, instance: models.Model, update_fields: frozenset[str] | None, saved: dict[str, Any]
) -> tuple[list[tuple[models.Field, Any]], bool]:
    """(field, value before the save) of the tracked fields this save writes, and whether any changed."""
    loaded = instance.__dict__
    fields = [
        f
        for f in spec.fields
        # A field deferred and never read or assigned is unchanged.
        if f.attname in loaded
        and (update_fields is None or f.name in update_fields or f.attname in update_fields)
    ]
    unknown = [f.attname for f in fields if f.attname not in saved]
    if unknown:
        # Deferred when loaded (or never loaded): the row still holds the old value.
        row = (
            type(instance)._base_manager.db_manager(instance._state.db)
            .filter(pk=instance.pk)
            .values_list(*unknown)
            .first()
        )
        saved = {**saved, **dict(zip(unknown, row or (None,) * len(unknown), strict=True))}
    olds = [(f, saved[f.attname]) for f in fields]
    return olds, any(old != loaded[f.attname] for f, old in olds)


# Delete


class DeletionPlan:
    """The deltas of one deletion, gathered while Django collects and deletes."""

    def __init__(self, collector: Any = None):
        self.collector = collector
        # The connection and atomic block the deletion runs in, once it runs. Django sends every
        # pre_delete and post_delete of a deletion from one synchronous call, on that connection,
        # so they find it here rather than through ``connections[using]``, which asks asyncio
        # whether a loop is running each time.
        self.connection: Any = None
        self.block: Any = None
        self.expected = 0
        self.entries: list[ObjectEntry] = []
        self.updates: list[ObjectEntry] = []
        # Values of fields the deleted rows were loaded without, read once for all of them.
        self.deferred: dict[Any, dict[str, Any]] | None = None

    def is_running_in(self, block: Any) -> bool:
        """Whether this plan is the one of the deletion running in the atomic ``block``."""
        if self.collector is None or self.block is not None:
            return self.block is block
        # Made while collecting: it is this deletion's only if its collector went on to
        # delete, and Django turns a collector's sets of instances into sorted lists as it
        # starts to. A collection stopped by PROTECT or RESTRICT, or one that only looks (the
        # admin's confirmation page), leaves its plan behind with sets.
        return not any(isinstance(instances, set) for instances in self.collector.data.values())

    def is_running(self, using: str) -> bool:
        """Whether the deletion running now on ``using`` is this plan's, known to be running already."""
        connection = self.connection
        return connection is not None and connection.alias == using and self.block is _atomic_block(connection)

    def write(self, using: str) -> None:
        """Write what is planned so far: key updates first, as Django runs them first."""
        writer.write(using, merge_updates(self.updates) + self.entries)
        self.updates, self.entries = [], []


def _atomic_block(connection: Any) -> Any:
    blocks = connection.atomic_blocks
    return blocks[-1] if blocks else None


def _plan_in_transaction(holder: Any, using: str) -> DeletionPlan:
    """The plan of the deletion running now, for pre_delete."""
    plan: DeletionPlan | None = holder.__dict__.get(PLAN_ATTRIBUTE)
    if plan is not None and plan.is_running(using):
        return plan
    connection = connections[using]
    block = _atomic_block(connection)
    if plan is None or not plan.is_running_in(block):
        plan = holder.__dict__[PLAN_ATTRIBUTE] = DeletionPlan()
    plan.connection, plan.block = connection, block
    return plan


def _plan_while_collecting(holder: Any, collector: Any) -> DeletionPlan:
    """The plan of the deletion ``collector`` is collecting, for revy's handlers."""
    plan: DeletionPlan | None = holder.__dict__.get(PLAN_ATTRIBUTE)
    if plan is None or plan.collector is not collector:
        plan = holder.__dict__[PLAN_ATTRIBUTE] = DeletionPlan(collector)
    return plan


def _holder(origin: Any, instance: models.Model) -> Any:
    """What the plan of a deletion is kept on: its origin (an instance or a queryset)."""
    # Never ``origin or instance``: testing a queryset for truth runs it.
    return origin if hasattr(origin, "__dict__") else instance


def plan_delete(sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any) -> None:
    if Context.is_disabled():
        return
    plan = _plan_in_transaction(_holder(kwargs.get("origin"), instance), using)
    plan.expected += 1
    spec = spec_for(sender)
    if spec is None or _deleted_with_tracked_child(instance):
        return
    loaded = instance.__dict__
    cascaded = loaded.pop(CASCADED_ATTRIBUTE, False)
    # The values the row was loaded with (those of an instance loaded whole, the common case),
    # else the ones it holds, else (a field deferred and never read) the row's own.
    saved = getattr(instance, "_" + TRACKER_NAME).saved_data
    if len(saved) < len(spec.fields):
        saved = {**loaded, **saved}
        missing = [f.attname for f in spec.fields if f.attname not in saved]
        if missing:
            saved.update(deferred_values(plan, kwargs.get("origin"), instance, missing))
    if cascaded:
        actor, object_description = None, Context.get_deletion_description()
        attribute_description = object_description
    else:
        actor, object_description = Context.get_actor(), Context.get_object_delta_description()
        attribute_description = Context.get_attribute_delta_description()
    plan.entries.append(
        ObjectEntry(
            spec.model,
            instance.pk,
            ACTION_DELETE,
            actor,
            object_description,
            [
                AttributeEntry(f.name, ACTION_UNSET, actor, attribute_description, saved[f.attname], None)
                for f in spec.fields
            ],
        )
    )
    if len(plan.entries) >= conf.deletion_chunk_size():
        plan.write(using)


def deferred_values(plan: DeletionPlan, origin: Any, instance: models.Model, missing: list[str]) -> dict[str, Any]:
    """The values of ``missing`` fields of ``instance`` while its row still exists.

    Rows a queryset loaded with ``only()`` or ``defer()`` are read once, all
    together, through that queryset; an instance alone is read on its own.
    """
    model = type(instance)._meta.concrete_model
    if isinstance(origin, models.QuerySet) and origin.model._meta.concrete_model is model:
        if plan.deferred is None:
            pk = origin.model._meta.pk
            assert pk is not None
            rows = origin.values(*(f.attname for f in origin.model._meta.concrete_fields))
            plan.deferred = {row[pk.attname]: row for row in rows}
        row = plan.deferred.get(instance.pk)
        if row is not None:
            return {attname: row[attname] for attname in missing}
    return {attname: getattr(instance, attname) for attname in missing}


def _deleted_with_tracked_child(instance: models.Model) -> bool:
    """Whether ``instance`` is the parent row of a multi-table child being deleted.

    Django deletes the parent rows of a child through the child's cached parent
    link, which caches the child on the parent; the child's delta already holds
    every field of the object, so the parent row needs no delta of its own.
    """
    cache = instance._state.fields_cache
    return any(
        rel.parent_link and cache.get(rel.cache_name) is not None and spec_for(rel.related_model) is not None
        for rel in instance._meta.related_objects
    )


def record_delete(sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any) -> None:
    holder = _holder(kwargs.get("origin"), instance)
    plan: DeletionPlan | None = holder.__dict__.get(PLAN_ATTRIBUTE)
    if plan is None or not plan.is_running(using):
        return
    plan.expected -= 1
    if plan.expected == 0:
        del holder.__dict__[PLAN_ATTRIBUTE]
        plan.write(using)


def merge_updates(updates: list[ObjectEntry]) -> list[ObjectEntry]:
    """One UPDATE per object, however many of its keys the deletion set."""
    merged: dict[tuple[type[models.Model], Any], ObjectEntry] = {}
    for entry in updates:
        key = (entry.model, entry.pk)
        if key in merged:
            merged[key].attributes.extend(entry.attributes)
        else:
            merged[key] = entry
    return list(merged.values())


# revy's deletion handlers


def mark_cascaded(sender: type[models.Model], objects: list[models.Model], **kwargs: Any) -> None:
    for obj in objects:
        obj.__dict__[CASCADED_ATTRIBUTE] = True


def plan_field_update(
    sender: type[models.Model],
    field: models.Field,
    objects: list[models.Model],
    value: Any,
    origin: Any,
    collector: Any,
    **kwargs: Any,
) -> None:
    spec = spec_for(sender)
    # Without an origin to keep the plan on (the admin collects for a list), nothing is deleted.
    if spec is None or field not in spec.fields or not hasattr(origin, "__dict__"):
        return
    if isinstance(value, models.Model):
        value = getattr(value, field.target_field.attname)  # type: ignore[attr-defined]
    plan = _plan_while_collecting(origin, collector)
    description = Context.get_deletion_description()
    plan.updates.extend(
        ObjectEntry(
            spec.model,
            obj.pk,
            ACTION_UPDATE,
            None,
            description,
            [AttributeEntry(field.name, ACTION_SET, None, description, getattr(obj, field.attname), value)],
        )
        for obj in objects
        if getattr(obj, field.attname) != value
    )


signals.objects_cascaded.connect(mark_cascaded, dispatch_uid="revy.mark_cascaded")
signals.field_set_on_delete.connect(plan_field_update, dispatch_uid="revy.plan_field_update")
