"""What happens on save and on delete, from the signal to the rows.

Receivers are connected per tracked model (and per proxy of one), never for
every model, so untracked models keep Django's fast delete paths.

Save
    ``save()`` below is a tracked model's ``save_base()`` (the tracker's
    own patch, see ``tracking``): while a context records, Django's save
    runs under a ``SaveScope``, an execute wrapper that sees every statement
    of the save. Then ``pre_save`` (``plan_save``) takes what the save
    changes and who assigned each field, before Django writes; the scope
    sees Django's write and either folds the deltas into it (PostgreSQL:
    one statement) or, when the save records anything, begins one
    transaction around the rest of the save; ``post_save`` (``record_save``)
    writes the deltas in that transaction. A save that records nothing runs
    exactly as Django runs it.

Delete (``pre_delete`` / ``post_delete``)
    Django sends every ``pre_delete`` of a deletion before any row goes, then
    one ``post_delete`` per row, all in one transaction. ``pre_delete`` takes
    the before-image (the row still exists, so a deferred field can still be
    read) into the deletion's plan, kept on the deletion's origin and written
    in bulk every ``REVY_DELETION_CHUNK_SIZE`` objects; the last
    ``post_delete`` writes the rest. ``RevyTrackedModel.delete()`` runs under
    a ``OneStatementDelete`` on PostgreSQL, which folds the deltas of an
    object deleted alone into Django's DELETE.

Deletion handlers (``revy.signals``)
    revy's ``CASCADE`` marks the objects it cascades to, so their deltas are
    attributed to the system and described by ``deletion_description``;
    revy's ``SET*`` handlers add an UPDATE of the foreign key to the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.apps import apps
from django.db import connections, models, router, transaction
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
from revy.contrib.django.deletion import SETS_FIELD
from revy.contrib.django.specs import (
    ATTRIBUTION_ATTRIBUTE,
    TRACKER_NAME,
    TrackingSpec,
    all_models,
    spec_for,
    tracked_models,
)
from revy.contrib.django.values import attname_value
from revy.contrib.django.writer import AttributeEntry, ObjectEntry

PLAN_ATTRIBUTE = "_revy_deletion_plan"
CASCADED_ATTRIBUTE = "_revy_cascaded"
PENDING_SAVE_ATTRIBUTE = "_revy_pending_save"


_connected = False


def connect_receivers() -> None:
    """Connect revy's receivers (``AppConfig.ready()``); models tracked later connect as they are."""
    global _connected
    _connected = True
    signals.objects_cascaded.connect(mark_cascaded, dispatch_uid="revy.mark_cascaded")
    signals.field_set_on_delete.connect(plan_field_update, dispatch_uid="revy.plan_field_update")
    for model in tracked_models():
        connect_model(model)
    connect_deletion_targets()


def connect_model(model: type[models.Model]) -> None:
    """Record saves and deletes of the tracked ``model`` and its proxies, once receivers are connected."""
    if not _connected:
        return
    connect(model)  # not among all_models() yet while it is being prepared
    for each in all_models():
        if each._meta.proxy and each._meta.concrete_model is model:
            connect(each)
    if apps.models_ready:
        connect_deletion_targets()


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
    if not _connected:
        return
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


# Who assigned what


def note_assignment(instance: models.Model, attname: str) -> None:
    """Remember who assigned ``attname`` of ``instance`` (and why), for its AttributeDelta."""
    attribution: dict[str, tuple[Any, str]] | None = instance.__dict__.get(ATTRIBUTION_ATTRIBUTE)
    if Context.is_disabled():
        if attribution:
            attribution.pop(attname, None)
        return
    if attribution is None:
        attribution = instance.__dict__[ATTRIBUTION_ATTRIBUTE] = {}
    attribution[attname] = (Context.get_actor(), Context.get_attribute_delta_description())


# Save


def save(
    model: type[models.Model],
    instance: models.Model,
    save_base: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """``save_base(instance, *args, **kwargs)`` of a tracked ``model``, recorded while a context records.

    A save that fails leaves the tracker as it was: FieldTracker marks the
    values saved on its way out even when the save raised, and the next save
    would then miss (or misattribute) the changes the rollback undid.
    """
    if type(instance)._meta.concrete_model is not model:
        # A multi-table child's save: its own tracker's call of this function records it.
        return save_base(instance, *args, **kwargs)
    # Django's signature: save_base(raw=False, force_insert=False, force_update=False, using=None, ...).
    raw = kwargs.get("raw", args[0] if args else False)
    if raw or Context.is_disabled():
        return save_base(instance, *args, **kwargs)
    using = kwargs.get("using", args[3] if len(args) > 3 else None)
    using = using or router.db_for_write(model, instance=instance)
    tracker = instance.__dict__["_" + TRACKER_NAME]
    saved_data = dict(tracker.saved_data)
    scope = SaveScope(instance, using)
    try:
        with scope:
            return save_base(instance, *args, **kwargs)
    except BaseException:
        if not scope.committed:
            tracker.saved_data = saved_data  # the database still holds them
        raise


SCOPE_ATTRIBUTE = "_revy_save_scope"


class SaveScope:
    """What a tracked save runs in while a context records: its statement, or its transaction.

    When the save records anything, it runs from then on in
    ``atomic(savepoint=False)``, where ``record_save`` writes the deltas: the
    change and its deltas commit or roll back together, and no SAVEPOINT is
    opened inside a caller's transaction. ``plan_save`` begins it, once it
    knows; a save that records nothing runs exactly as Django runs it.

    Where the database can carry the deltas in Django's own write
    (PostgreSQL's data-modifying CTEs, see ``writer.one_statement``), the
    scope is also an execute wrapper: the deltas (and the scope's revision,
    when the save is its first change) ride in Django's INSERT or UPDATE of
    the instance, one round trip, which outside a transaction commits by
    itself as an untracked save's does. Anything else first (a value the
    database computes, a statement a receiver or ``select_on_save`` runs
    before the write) and the rest of the save is one transaction instead.
    Statements that others rewrite before this wrapper sees them (comments,
    query tags, a prefixed ``SELECT set_config(...);``) are found and kept
    whole (``writer.Change.of``); one that cannot be is never folded.
    """

    def __init__(self, instance: models.Model, using: str):
        self.instance = instance
        self.using = using
        self.connection = connections[using]
        self.folds = writer.writers_for(using).in_one_statement and not instance._meta.parents
        self.depth = len(self.connection.atomic_blocks)
        self.acted = False  # at the first statement the save runs once planned
        self.begun = False
        # Whether the change and its deltas are committed, whatever happens next in the save.
        self.committed = False
        self.stack = ExitStack()

    def __enter__(self) -> SaveScope:
        if self.folds:
            # Inside a caller's transaction a failure anywhere in the save dooms it, as atomic() would.
            self.stack.enter_context(transaction.mark_for_rollback_on_error(self.using))
            self.stack.enter_context(self.connection.execute_wrapper(self))
        # A receiver's save of the same instance runs in a scope of its own, then gives this one back.
        self.stack.callback(self.restore, self.instance.__dict__.get(SCOPE_ATTRIBUTE))
        self.instance.__dict__[SCOPE_ATTRIBUTE] = self
        return self

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self.stack.__exit__(*exc_info)

    def restore(self, outer: SaveScope | None) -> None:
        if outer is None:
            self.instance.__dict__.pop(SCOPE_ATTRIBUTE, None)
        else:
            self.instance.__dict__[SCOPE_ATTRIBUTE] = outer

    def begin(self) -> None:
        """Run the rest of the save in one transaction (or mark the caller's for rollback if it fails)."""
        if not self.begun:
            self.begun = True
            self.stack.enter_context(transaction.atomic(using=self.using, savepoint=False))

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if self.acted or self.begun or len(self.connection.atomic_blocks) != self.depth:
            # Done, or inside a receiver's own atomic block.
            return execute(sql, params, many, context)
        pending: PendingSave | None = self.instance.__dict__.get(PENDING_SAVE_ATTRIBUTE)
        if pending is not None and pending.records_nothing():
            return execute(sql, params, many, context)
        self.acted = True
        if pending is not None and not many and self.is_innermost():
            change = writer.Change.of(self.instance, sql, params, context["connection"])
            if change is not None:
                return self.fold(pending, change, execute, sql, params, many, context)
        # Something else first: a receiver's query, select_on_save, a read of deferred values, a
        # nested save. From here on the save is one transaction.
        self.begin()
        return execute(sql, params, many, context)

    def is_innermost(self) -> bool:
        """Whether no save nested in this one (a receiver's) runs now on the connection."""
        for wrapper in reversed(self.connection.execute_wrappers):
            if isinstance(wrapper, SaveScope):
                return wrapper is self
        return False

    def fold(
        self,
        pending: PendingSave,
        change: writer.Change,
        execute: Any,
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        """Run Django's write of the instance with the save's deltas, when it can carry them."""
        spec = spec_for(type(self.instance))
        assert spec is not None
        olds = pending.olds(spec, change.inserts)
        if olds is None or not self.takes_deltas(spec, change) or stale_fields(self.instance, olds):
            self.begin()
            return execute(sql, params, many, context)
        changes = changes_of(self.instance, olds, change.inserts)
        entry = save_entry(spec, self.instance, pending, olds, changes, change.inserts)
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

    def takes_deltas(self, spec: TrackingSpec, change: writer.Change) -> bool:
        """Whether Django's statement, as ``change``, can carry the deltas of the save."""
        if not change.inserts or self.instance.pk is not None:
            return True
        # The pk is the database's: fold only an integer the INSERT returns, which its delta takes.
        pk = spec.model._meta.pk
        return isinstance(pk, AutoFieldMixin) and pk.db_returning and bool(change.pk)


class PendingSave:
    """What ``plan_save`` learnt before Django writes, for the save's scope and ``record_save``."""

    __slots__ = ("authors", "before", "changed", "inserts", "recorded")

    def __init__(
        self, before: list[tuple[models.Field, Any]] | None, changed: bool, authors: dict[str, tuple[Any, str]]
    ):
        # None for an INSERT; else (field, value before) of the fields written, and whether any changed.
        self.before = before
        self.inserts = before is None
        self.changed = changed
        self.authors = authors
        # The changes already recorded by the save's own statement (see SaveScope.fold).
        self.recorded: list[tuple[models.Field, Any, Any]] | None = None

    def records_nothing(self) -> bool:
        return not (self.inserts or self.changed)

    def olds(self, spec: TrackingSpec, inserted: bool) -> list[tuple[models.Field, Any]] | None:
        """(field, value before) of the fields the save may change; None when it changes nothing."""
        if inserted:
            return [(f, None) for f in spec.fields]
        return self.before if self.changed else None  # auto_now fields alone do not make a change


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
    authors = dict(instance.__dict__.get(ATTRIBUTION_ATTRIBUTE) or {})
    scope: SaveScope | None = instance.__dict__.get(SCOPE_ATTRIBUTE)
    # Where the deltas cannot ride in Django's write, the save records in one transaction from here on.
    begin = scope.begin if scope is not None and not scope.folds else None
    if instance._state.adding and (instance.pk is None or spec.pk_has_default):
        pending = PendingSave(None, True, authors)  # an INSERT: every field is recorded once the pk is known
    else:
        # An update; or a new instance given the pk of a row, which Django updates when it exists.
        saved = {} if instance._state.adding else instance.__dict__["_" + TRACKER_NAME].saved_data
        pending = PendingSave(*values_before(spec, instance, update_fields, saved, begin), authors)
    instance.__dict__[PENDING_SAVE_ATTRIBUTE] = pending
    if begin is not None and not pending.records_nothing():
        begin()


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
    inserted = created or pending.inserts
    olds = pending.olds(spec, inserted)
    if olds is None:
        return
    stale = stale_fields(instance, olds)
    if stale:
        instance.refresh_from_db(using=using, fields=stale)
    changes = changes_of(instance, olds, inserted)
    writer.write(using, [save_entry(spec, instance, pending, olds, changes, inserted)])
    forget_attribution(instance, changes)


def values_before(
    spec: TrackingSpec,
    instance: models.Model,
    update_fields: frozenset[str] | None,
    saved: dict[str, Any],
    begin: Callable[[], None] | None,
) -> tuple[list[tuple[models.Field, Any]], bool]:
    """(field, value before the save) of the tracked fields this save writes, and whether any changed.

    ``begin`` (if any) is called before the row is read, so that the read and the write are one transaction.
    """
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
        if begin is not None:
            begin()
        row = (
            type(instance)._base_manager.db_manager(instance._state.db)
            .filter(pk=instance.pk)
            .values_list(*unknown)
            .first()
        )
        saved = {**saved, **dict(zip(unknown, row or (None,) * len(unknown), strict=True))}
    olds = [(f, saved[f.attname]) for f in fields]
    return olds, any(old != attname_value(f, loaded[f.attname]) for f, old in olds)


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
    news = [(f, old, attname_value(f, loaded[f.attname])) for f, old in olds]
    return news if inserted else [(f, old, new) for f, old, new in news if old != new]


def save_entry(
    spec: TrackingSpec,
    instance: models.Model,
    pending: PendingSave,
    olds: list[tuple[models.Field, Any]],
    changes: list[tuple[models.Field, Any, Any]],
    inserted: bool,
) -> ObjectEntry:
    actor = Context.get_actor()
    description = Context.get_attribute_delta_description()
    entry = ObjectEntry(
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
    if not inserted and len(olds) == len(spec.fields):
        # The save wrote every tracked field (no update_fields, none deferred): the row holds these now.
        loaded = instance.__dict__
        entry.state = {f.name: attname_value(f, loaded[f.attname]) for f, _ in olds}
    return entry


def forget_attribution(instance: models.Model, changes: list[tuple[models.Field, Any, Any]]) -> None:
    """Recorded: who assigned those fields is history now."""
    attribution = instance.__dict__.get(ATTRIBUTION_ATTRIBUTE)
    if attribution:
        for f, _, _ in changes:
            attribution.pop(f.attname, None)


# Delete


def delete(instance: models.Model, delete: Callable[[], Any], using: str | None) -> Any:
    """``delete()`` of a ``RevyTrackedModel``: on PostgreSQL, an object deleted alone carries its deltas."""
    if Context.is_disabled():
        return delete()
    using = using or router.db_for_write(type(instance), instance=instance)
    if not writer.writers_for(using).in_one_statement or instance._meta.parents:
        return delete()
    with connections[using].execute_wrapper(OneStatementDelete(instance, using)):
        return delete()


class OneStatementDelete:
    """An execute wrapper that folds the deltas of one object deleted alone into Django's DELETE of its row.

    Django runs a deletion in a transaction of its own once receivers listen;
    when the deletion is of this one object alone (no cascade, no keys set),
    its object delta and attribute deltas are written by the DELETE statement
    itself (data-modifying CTEs), one round trip fewer. Anything else is left
    to ``record_delete``.
    """

    def __init__(self, instance: models.Model, using: str):
        self.instance = instance
        self.using = using
        self.seen = False  # the statement that deletes the instance's row

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if self.seen or many:
            return execute(sql, params, many, context)
        change = writer.Change.of(self.instance, sql, params, context["connection"])
        if change is None or not change.deletes:
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
            change,
            lambda sql, params: execute(sql, params, many, context),
            context["cursor"],
        )
        if wrote:  # else the row was gone already: record_delete records the delete, as before
            plan.entries = []
        return result


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

