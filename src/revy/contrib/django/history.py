"""The history API: ``Book.history``, ``book.history``, actors of a revision, and undo.

``Book.history`` is every Book's object deltas and ``book.history`` one
book's, newest first, as chainable ObjectDelta querysets with ``as_of()``,
``field_history()``, ``deleted()`` and ``revert_to()``. Writing back goes
through the model's own ``save()``, so a revert or undelete made inside a
context is recorded like any other change.
"""

from __future__ import annotations

import datetime
import inspect
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, models, transaction
from django.db.models import Case, Max, Subquery, When
from django.db.models.functions import Cast, Coalesce
from django.db.models.query import ModelIterable

from revy.context import Context, storage
from revy.contrib.django import conf
from revy.contrib.django.actions import CREATE as ACTION_CREATE
from revy.contrib.django.actions import DELETE as ACTION_DELETE
from revy.contrib.django.content_types import content_type_of, model_of
from revy.contrib.django.delta_rows import DeltaRowExpression
from revy.contrib.django.m2m import members_at, restore_memberships, revert_memberships
from revy.contrib.django.managers import AttributeDeltaQuerySet, ObjectDeltaQuerySet
from revy.contrib.django.records import HistoryRecord, object_records
from revy.contrib.django.snapshot import (
    DeleteSnapshot,
    FoldedState,
    ObjectSnapshot,
    OwnChanges,
    build_instance,
    snapshot_of,
    stored_values,
)
from revy.contrib.django.specs import spec_for
from revy.contrib.django.statements import Slot, compiled, deltas_of_one_object, object_keys
from revy.contrib.django.values import from_stored
from revy.errors import RegistrationError, RevertConflict


class HistoryQuerySet(ObjectDeltaQuerySet):
    """Object deltas of one tracked model, or of one of its objects, newest first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracked_model: type[models.Model] | None = None
        self.tracked_object: models.Model | None = None
        # On ``instance.history`` itself: the object's (content type id, content id). Its reads
        # then have no condition of the caller's and run statements compiled once.
        self.whole_history: dict[str, Any] | None = None
        # On ``instance.history.with_snapshot()`` and the pages sliced from it, until chained further.
        self.snapshot_page: dict[str, Any] | None = None

    def _clone(self) -> HistoryQuerySet:
        clone: HistoryQuerySet = super()._clone()  # type: ignore[misc]
        clone.tracked_model = self.tracked_model
        clone.tracked_object = self.tracked_object
        return clone

    @property
    def _model(self) -> type[models.Model]:
        assert self.tracked_model is not None, "use Model.history or instance.history"
        return self.tracked_model

    def with_snapshot(self) -> HistoryQuerySet:
        """Each delta with ``snapshot``, the object as it was after it, in the same query."""
        annotated: HistoryQuerySet = self.annotate(snapshot=ObjectSnapshot(self._model))
        annotated.snapshot_page = self.whole_history
        return annotated

    def __getitem__(self, k: Any) -> Any:
        found = super().__getitem__(k)
        if self.snapshot_page is not None and isinstance(found, HistoryQuerySet):
            # A page of instance.history.with_snapshot(), not read yet: a statement compiled once reads it.
            found.snapshot_page = self.snapshot_page
            found._iterable_class = SnapshotPage
        return found

    def page_from_statement(self) -> list[models.Model]:
        """This page of the object's deltas with their snapshots, from a statement compiled once per bounds.

        Each snapshot is what ``ObjectSnapshot`` gives its delta: the state the
        delta stored, else its fields folded from the attribute deltas. Except
        on MySQL, the statement gives each delta's state, or its own changes:
        a create's or a delete's are every field, and the fold at any other
        delta is the fold at the one before it with its changes. When that
        fold passes a delta with a state or starts below the page, a second
        statement gives every delta's own changes and the fold at the page's
        oldest delta: a seek per field.
        """
        model, using, delta_model = self._model, self.db, self.model
        low, high = self.query.low_mark, self.query.high_mark
        if high is not None and high <= low:
            return []  # as Django gives for qs[0:0] (a Paginator's first page of an empty history)
        attnames = [f.attname for f in delta_model._meta.concrete_fields]
        # Folding takes the page newest first, as revy's delta models order it (a swapped one may not).
        newest_first = list(delta_model._meta.ordering) in (["-pk"], [f"-{delta_model._meta.pk.name}"])
        folds = newest_first and connections[using].vendor != "mysql"

        def build(with_base: bool) -> models.QuerySet:
            deltas = deltas_of_one_object(delta_model, using)
            if not folds:
                snapshots = deltas.annotate(snapshot=ObjectSnapshot(model))
                return snapshots.values_list(*attnames, "snapshot")[low:high]
            if not with_base:  # the own changes of the deltas without state only
                changes = Case(When(state__isnull=True, then=OwnChanges()))
                return deltas.annotate(changes=changes).values_list(*attnames, "changes")[low:high]
            folded = deltas.annotate(changes=OwnChanges())
            # The oldest of the page: the one at its far end, or the object's first when the page ends the history.
            first = Subquery(deltas.order_by("pk").values("pk")[:1])
            oldest = first if high is None else Coalesce(Subquery(deltas.values("pk")[high - 1 : high]), first)
            base = Case(When(pk=oldest, then=FoldedState(model)))
            return folded.annotate(base=base).values_list(*attnames, "changes", "base")[low:high]

        def statement(with_base: bool) -> Any:
            key = ("page", delta_model, model, spec_for(model), using, low, high, with_base)
            return compiled(key, lambda: build(with_base))

        assert self.snapshot_page is not None
        page_statement = statement(with_base=False)
        rows = page_statement.rows(using, **self.snapshot_page)
        columns = len(attnames)
        state_column, action_column = attnames.index("state"), attnames.index("action")
        if folds and folds_below_page([(row[state_column], row[action_column]) for row in reversed(rows)]):
            page_statement = statement(with_base=True)  # the fold at its oldest delta: a seek per field
            rows = page_statement.rows(using, **self.snapshot_page)
        converters = [page_statement.converter(i, using) for i in range(columns)]
        page = []
        for row in rows:
            values = [convert(value) for convert, value in zip(converters, row[:columns], strict=True)]
            page.append(delta_model.from_db(using, attnames, values))
        if not folds:
            convert_snapshot = page_statement.converter(columns, using)
            for delta, row in zip(page, rows, strict=True):
                delta.snapshot = convert_snapshot(row[columns])
            return page
        fold: dict[str, Any] = {}  # the fields folded from the attribute deltas, up to each delta
        chained = any(delta.state is None and delta.action not in WHOLE for delta in page)
        for delta, row in zip(reversed(page), reversed(rows), strict=True):
            base = row[columns + 1] if len(row) > columns + 1 else None  # the fold at the oldest, if asked
            if base is not None:
                fold = stored_values(base)
            elif delta.action in WHOLE:
                fold = stored_values(row[columns])
            elif chained:
                fold = {**fold, **stored_values(row[columns])}
            delta.snapshot = snapshot_of(model, fold if delta.state is None else delta.state, using)
        return page

    def records(self) -> list[HistoryRecord]:
        if self.whole_history is None:
            return super().records()
        return object_records(self.model, self.db, self.whole_history)

    def as_of(self, when: datetime.datetime) -> Any:
        """The object as it was at ``when`` (None if it did not exist then).

        On ``Book.history``, the list of every Book that existed at ``when``.
        """
        if self.whole_history is not None:
            action, snapshot = self._newest_up_to(when)
            return None if action in (None, ACTION_DELETE) else snapshot
        before = self.filter(created_at__lte=when)
        if self.tracked_object is None:
            newest = before.order_by().values("content_id").annotate(newest=Max("pk")).values("newest")
            rows = self.filter(pk__in=newest).exclude(action=ACTION_DELETE).with_snapshot()
            return [row.snapshot for row in rows.order_by("pk")]
        annotated = before.order_by("-pk").annotate(snapshot=ObjectSnapshot(self._model))
        action, snapshot = annotated.values_list("action", "snapshot").first() or (None, None)
        return None if action in (None, ACTION_DELETE) else snapshot

    def _newest_up_to(self, when: datetime.datetime) -> tuple[Any, Any]:
        """The action and snapshot of the object's newest delta up to ``when``, from a statement compiled once."""
        model, using = self._model, self.db

        def build(stored: bool) -> models.QuerySet:
            moment = Slot("when", models.DateTimeField())
            deltas = deltas_of_one_object(self.model, using).filter(created_at__lte=moment).order_by("-pk")
            if not stored:
                return deltas.annotate(snapshot=ObjectSnapshot(model)).values_list("action", "snapshot")[:1]
            changes = Case(When(state__isnull=True, action=ACTION_CREATE, then=OwnChanges()))
            return deltas.annotate(changes=changes).values_list("action", "state", "changes")[:1]

        assert self.whole_history is not None
        key = ("as_of", self.model, model, spec_for(model), using)
        if connections[using].vendor != "mysql":  # whose GROUP_CONCAT would cut a create's values
            rows = compiled((*key, "stored"), lambda: build(stored=True)).rows(using, **self.whole_history, when=when)
            if not rows:
                return None, None
            action, state, changes = rows[0]
            if action == ACTION_DELETE:
                return action, None
            if state is not None or changes is not None:
                return action, snapshot_of(model, stored_values(state if state is not None else changes), using)
        statement = compiled(key, lambda: build(stored=False))  # the state, or else a seek per field
        rows = statement.rows(using, **self.whole_history, when=when)
        if not rows:
            return None, None
        action, snapshot = rows[0]
        return action, statement.converter(1, using)(snapshot)

    def field_history(self, name: str) -> Any:
        """The AttributeDeltas of field ``name`` in these deltas, newest first."""
        attribute_delta = apps.get_model(conf.attribute_delta_model_label())
        deltas = attribute_delta.objects.using(self.db)
        if self.tracked_object is not None:
            # The object's own keys lead the attribute deltas' (content, field) index.
            deltas = deltas.for_object(self.tracked_object)
        if self.whole_history is None:
            deltas = deltas.filter(object_delta__in=self.order_by().values("pk"))
        return deltas._equal(field_name=name).order_by("-pk")

    def deleted(self) -> HistoryQuerySet:
        """Each object's last DELETE delta, when it is among these deltas and the object is gone, with ``snapshot``::

            for delta in Book.history.deleted():
                delta.snapshot.save()

        The snapshot is the object's last state, whatever these deltas are:
        ``Book.history.by_actor(alice).deleted()`` gives the books still gone
        whose last deletion alice made (not one she deleted that was restored
        and deleted again since). One query when the model's pk is an integer
        or text (the database compares it with the deltas' ``content_id``),
        three otherwise.
        """
        model = self._model
        pk = model._meta.pk
        deletes = self._equal(action=ACTION_DELETE)
        if isinstance(pk, models.IntegerField | models.CharField):
            return deletes.filter(NoLaterDelete(), RowGone(model)).annotate(snapshot=DeleteSnapshot(model))
        newest = deletes.filter(NoLaterDelete())
        last = dict(newest.values_list("content_id", "pk"))
        by_pk = {pk.to_python(content_id): delta_pk for content_id, delta_pk in last.items()}
        alive_pks = model._base_manager.using(self.db).filter(pk__in=list(by_pk)).values_list("pk", flat=True)
        for alive_pk in alive_pks:
            by_pk.pop(alive_pk, None)
        return self.filter(pk__in=list(by_pk.values())).annotate(snapshot=DeleteSnapshot(model))

    def revert_to(self, delta: models.Model) -> models.Model:
        """Put the object of ``delta`` back in its state at that delta and return it.

        Updates the fields that differ (excluded fields keep their values), or
        inserts the object again when it is gone, and gives its many-to-many
        relations back the members they had then; recorded when a context is
        active.
        """
        snapshot = self.filter(pk=delta.pk).with_snapshot().get().snapshot
        with transaction.atomic(using=snapshot._state.db):
            restored = restore(snapshot)
            restore_memberships(restored, delta)
        return restored

    def members(
        self, name: str, *, as_of: datetime.datetime | None = None, at: models.Model | None = None
    ) -> set[Any]:
        """On ``obj.history``: the keys of the members of its many-to-many relation ``name``.

        Those it had at ``as_of``, or right after the delta ``at``; with
        neither, the members recorded last.
        """
        assert self.tracked_object is not None, "use instance.history"
        return members_at(self.tracked_object, name, delta=at, when=as_of)


# Deltas whose own attribute deltas hold every field tracked then: a create's set them, a delete's unset them.
WHOLE = (ACTION_CREATE, ACTION_DELETE)


def folds_below_page(oldest_first: list[tuple[Any, int]]) -> bool:
    """Whether a page's (state, action) pairs, oldest first, hold an update without state folded from below.

    The fold at such an update starts from the nearest create or delete
    below it, through deltas without state only; else it needs the fold at
    the page's oldest delta and the own changes of every delta.
    """
    from_whole = False
    for state, action in oldest_first:
        if action in WHOLE:
            from_whole = True
        elif state is not None:
            from_whole = False
        elif not from_whole:
            return True
    return False


class _OwnRowCondition(DeltaRowExpression):
    """A condition on each object delta of its query, written out (see ``delta_rows``).

    "No such row" is written ``(SELECT 1 ... LIMIT 1) IS NULL`` rather than
    ``NOT EXISTS``, which PostgreSQL turns into an anti-join whose plan took
    0.29 ms of a ``deleted()`` read, against 0.17 ms for a seek per row.
    """

    output_field = models.BooleanField()

    @staticmethod
    def none(select: str) -> str:
        return f"(({select} LIMIT 1) IS NULL)"


class NoLaterDelete(_OwnRowCondition):
    """No DELETE of the same object after this delta, anywhere: a seek on the (content type, content id, pk) index."""

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        quote = connection.ops.quote_name
        meta = compiler.query.get_meta()
        own = self.columns_sql(compiler, "content_type", "content_id", "pk")
        later = {name: quote(meta.get_field(name).column) for name in ("content_type", "content_id", "action")}
        later["pk"] = quote(meta.pk.column)
        sql = self.none(
            f"SELECT 1 FROM {quote(meta.db_table)} revy_later "
            f"WHERE revy_later.{later['content_type']} = {own['content_type']} "
            f"AND revy_later.{later['content_id']} = {own['content_id']} "
            f"AND revy_later.{later['pk']} > {own['pk']} AND revy_later.{later['action']} = %s"
        )
        return sql, [ACTION_DELETE]


class RowGone(_OwnRowCondition):
    """No row of ``model`` under this delta's ``content_id`` (cast to the pk's type): a seek on its pk."""

    def __init__(self, model: type[models.Model]):
        super().__init__()
        self.model = model

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        quote = connection.ops.quote_name
        meta = self.model._meta
        pk = meta.pk
        assert pk is not None
        stored = self.column(compiler, "content_id")
        key, params = compiler.compile(stored if isinstance(pk, models.CharField) else Cast(stored, output_field=pk))
        return self.none(f"SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(pk.column)} = {key}"), params


class SnapshotPage(ModelIterable):
    """Iterates a page of ``instance.history.with_snapshot()``; once chained further, as Django does."""

    def __iter__(self) -> Iterator[models.Model]:
        queryset: HistoryQuerySet = self.queryset  # type: ignore[assignment]
        if queryset.snapshot_page is None:
            yield from super().__iter__()
        else:
            yield from queryset.page_from_statement()


class HistoryDescriptor:
    """``Model.history`` (all objects' deltas) and ``instance.history`` (one object's)."""

    def __get__(self, instance: models.Model | None, owner: type[models.Model]) -> HistoryQuerySet:
        delta_model = apps.get_model(conf.object_delta_model_label())
        # An object's deltas live in the database the object was saved to.
        using = None if instance is None else instance._state.db
        queryset: HistoryQuerySet = HistoryQuerySet(model=delta_model, using=using)
        queryset.tracked_model = owner
        if instance is None:
            return queryset.for_model(owner)  # type: ignore[return-value]
        queryset.tracked_object = instance
        history: HistoryQuerySet = queryset.for_object(instance)  # type: ignore[assignment]
        history.whole_history = object_keys(content_type_of(instance, history.db).pk, str(instance.pk))
        return history


def check_history_attribute(model: type[models.Model]) -> None:
    """Raise ``RegistrationError`` if ``model`` has an attribute of its own where its history manager goes."""
    name = conf.history_attribute()
    if not isinstance(inspect.getattr_static(model, name, None), HistoryDescriptor | None):
        raise RegistrationError(
            f"{model.__name__} already has an attribute {name!r}; set REVY_HISTORY_ATTRIBUTE "
            "to another name for revy's history manager."
        )


def attach_history(model: type[models.Model]) -> None:
    """Give ``model`` its history manager, named by ``REVY_HISTORY_ATTRIBUTE``."""
    check_history_attribute(model)
    setattr(model, conf.history_attribute(), HistoryDescriptor())


def restore(snapshot: models.Model) -> models.Model:
    """Write ``snapshot`` back: update the fields that differ, or insert it when its row is gone.

    Raises ``revy.RevertConflict`` naming the object and field, before
    writing anything, when a value cannot go back (a unique value taken
    since, a foreign key whose target is gone).
    """
    model = type(snapshot)
    using = snapshot._state.db or DEFAULT_DB_ALIAS
    spec = spec_for(model)
    assert spec is not None
    current = model._base_manager.using(using).filter(pk=snapshot.pk).first()
    if current is None:
        _check(snapshot, list(spec.fields), set(), using)
        _write(snapshot, None, using)
        return snapshot
    changed = [
        f for f in spec.fields if not f.primary_key and getattr(current, f.attname) != getattr(snapshot, f.attname)
    ]
    for f in changed:
        setattr(current, f.attname, getattr(snapshot, f.attname))
    if changed:
        _check(current, changed, set(), using)
        _write(current, [f.name for f in changed], using)
    return current


# Undo of a revision


@dataclass
class ObjectChange:
    """What one revision did to one object: its first action and each field's value before it."""

    first_action: int
    deleted_by: int | None = None
    before: dict[str, Any] = field(default_factory=dict)


def revert_revision(revision: models.Model) -> Any:
    """Undo ``revision``: re-insert what it deleted (parents first), put back what it changed.

    Objects the revision created are left alone. Every write is checked
    first (unique values, foreign key targets), then done in one atomic
    block; a conflict raises ``revy.RevertConflict`` and changes nothing.
    Returns the new revision that records the undo (None when not recorded).
    """
    using = revision._state.db or DEFAULT_DB_ALIAS
    inserts, updates = _planned_writes(revision, using)
    restored = {(type(obj)._meta.concrete_model, obj.pk) for obj in inserts}
    for obj in inserts:
        _check(obj, [f for f in spec_for(type(obj)).fields], restored, using)  # type: ignore[union-attr]
    for obj, changed in updates:
        _check(obj, changed, restored, using)
    recorded: list[Any] = []

    def new_revision() -> Any:
        description = Context.get_revision_description() or f"Revert of revision {revision.pk}"
        created = type(revision)(description=description)
        created.save(using=using)
        recorded.append(created)
        return created

    with transaction.atomic(using=using):
        scope = Context.via_revision(new_revision) if storage.top is not None else nullcontext()
        with scope:
            for obj in inserts:
                _write(obj, None, using)
            for obj, changed in updates:
                _write(obj, [f.name for f in changed], using)
            revert_memberships(revision, using)
    return recorded[0] if recorded else None


def _planned_writes(
    revision: models.Model, using: str
) -> tuple[list[models.Model], list[tuple[models.Model, list[models.Field]]]]:
    """Objects to insert (in the order they must be written) and objects to update with their fields."""
    delta_model = apps.get_model(conf.object_delta_model_label())
    attribute_model = apps.get_model(conf.attribute_delta_model_label())
    changes: dict[tuple[int, str], ObjectChange] = {}
    for pk, type_id, content_id, action in (
        delta_model._base_manager.using(using)
        .filter(revision=revision)
        .order_by("pk")
        .values_list("pk", "content_type_id", "content_id", "action")
    ):
        change = changes.setdefault((type_id, content_id), ObjectChange(action))
        if action == ACTION_DELETE:
            change.deleted_by = pk
    for type_id, content_id, name, old_value in (
        AttributeDeltaQuerySet(attribute_model, using=using)
        .of_revision(revision)
        .order_by("pk")
        .values_list("content_type_id", "content_id", "field_name", "old_value")
    ):
        changes[(type_id, content_id)].before.setdefault(name, old_value)

    inserts: list[tuple[int, models.Model]] = []
    updates: list[tuple[models.Model, list[models.Field]]] = []
    by_type: dict[int, dict[str, ObjectChange]] = {}
    for (type_id, content_id), change in changes.items():
        if change.first_action != ACTION_CREATE:
            by_type.setdefault(type_id, {})[content_id] = change
    for type_id, objects in by_type.items():
        model = model_of(type_id, using)
        spec = spec_for(model) if model is not None else None
        if model is None or spec is None:
            continue
        pk_field = model._meta.pk
        current = model._base_manager.using(using).in_bulk([pk_field.to_python(content_id) for content_id in objects])
        for content_id, change in objects.items():
            obj = current.get(pk_field.to_python(content_id))
            if obj is None and change.deleted_by is None:
                raise RevertConflict(
                    f"{model._meta.label} {content_id} was changed by revision {revision.pk} "
                    "and has been deleted since; restore it first.",
                    obj=None,
                    field=None,
                )
            if obj is None:
                inserts.append((change.deleted_by, build_instance(model, change.before, using)))  # type: ignore[arg-type]
                continue
            changed = []
            for f in spec.fields:
                if f.name in change.before:
                    value = from_stored(f, change.before[f.name])
                    if getattr(obj, f.attname) != value:
                        setattr(obj, f.attname, value)
                        changed.append(f)
            if changed:
                updates.append((obj, changed))
    # A deletion removes children before their parents, so the reverse order restores parents first.
    inserts.sort(key=lambda pair: -pair[0])
    return [obj for _, obj in inserts], updates


def _describe(obj: models.Model) -> str:
    return f"{obj._meta.label} {obj.pk}"


def _check(obj: models.Model, fields: list[models.Field], restored: set[tuple[Any, Any]], using: str) -> None:
    """Raise RevertConflict if writing ``fields`` of ``obj`` would break a unique value or a foreign key."""
    names = {f.name for f in fields}
    others = {f.name for f in obj._meta.concrete_fields if f.name not in names}
    try:
        obj.validate_unique(exclude=others)
        obj.validate_constraints(exclude=others)
    except ValidationError as error:
        name = next(iter(error.message_dict))
        raise RevertConflict(
            f"Cannot restore {_describe(obj)}: {'; '.join(error.messages)}",
            obj=obj,
            field=None if name == NON_FIELD_ERRORS else name,
        ) from error
    for f in fields:
        value = getattr(obj, f.attname)
        if f.remote_field is None or not f.concrete or value is None or not getattr(f, "db_constraint", True):
            continue
        target = f.remote_field.model
        target_field = f.target_field  # type: ignore[attr-defined]
        if target_field.primary_key and (target._meta.concrete_model, value) in restored:
            continue
        if not target._base_manager.using(using).filter(**{target_field.attname: value}).exists():
            raise RevertConflict(
                f"Cannot restore {_describe(obj)}: its {f.name} points to "
                f"{target._meta.label} {value}, which no longer exists.",
                obj=obj,
                field=f.name,
            )


def _write(obj: models.Model, update_fields: list[str] | None, using: str) -> None:
    try:
        obj.save(using=using, update_fields=update_fields)
    except IntegrityError as error:
        raise RevertConflict(f"Cannot restore {_describe(obj)}: {error}", obj=obj, field=None) from error
