"""Many-to-many memberships: recorded from ``m2m_changed``, read back at any point, put back by an undo.

A relation has two sides: the model that declares the ``ManyToManyField``
(its name) and the model it points to (the reverse accessor's name, unless
hidden with a ``related_name`` ending in ``+``). Each *tracked* side records
every ``add``, ``remove``, ``clear`` and ``set``, from either side and
through auto-created or explicit through models, in the current revision and
with the context's actor: an ``ACTION_UPDATE`` object delta per object whose
members changed, with one attribute delta per member, named after the
relation on that side:

- a member that joins: ``ACTION_SET``, ``new_value`` its key;
- a member that leaves: ``ACTION_UNSET``, ``old_value`` its key.

So the members at any delta are the keys set and not unset since, which
``members_at()`` replays; ``revert_memberships()`` and
``restore_memberships()`` put them back for ``revision.revert()`` and
``revert_to()``. Receivers are connected per through model of a relation
with a tracked side; the others keep Django's fast ``add()``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import IntegrityError, models
from django.db.models import Max
from django.db.models.fields.related import lazy_related_operation
from django.db.models.signals import m2m_changed

from revy.context import Context
from revy.contrib.django import conf, writer
from revy.contrib.django.actions import DELETE as ACTION_DELETE
from revy.contrib.django.actions import SET as ACTION_SET
from revy.contrib.django.actions import UNSET as ACTION_UNSET
from revy.contrib.django.actions import UPDATE as ACTION_UPDATE
from revy.contrib.django.content_types import content_type_of, model_of
from revy.contrib.django.managers import AttributeDeltaQuerySet
from revy.contrib.django.specs import spec_for
from revy.contrib.django.writer import AttributeEntry, ObjectEntry
from revy.errors import RevertConflict

MEMBERS_ATTRIBUTE = "_revy_leaving_members"
# Keys per query when reading what became of members: under every database's cap of parameters.
MEMBERS_PER_QUERY = 900


@dataclass(frozen=True)
class Side:
    """One side of a relation: the objects of ``model`` and their members, of ``other``, under ``name``."""

    model: type[models.Model]
    name: str
    other: type[models.Model]
    forward: bool  # the side that declares the field


# Every relation with a tracked side, by its through model.
_relations: dict[type[models.Model], models.ManyToManyField] = {}


def sides_of(field: models.ManyToManyField) -> list[Side]:
    """The tracked sides of ``field``'s relation whose objects are keyed by their primary key."""
    sides = []
    through = field.remote_field.through
    source = through._meta.get_field(field.m2m_field_name())  # type: ignore[union-attr]
    target = through._meta.get_field(field.m2m_reverse_field_name())  # type: ignore[union-attr]
    declaring, related = field.model, field.related_model
    assert isinstance(related, type)
    if spec_for(declaring) is not None and source.target_field.primary_key:  # type: ignore[union-attr]
        sides.append(Side(declaring, field.name, related, True))
    accessor = field.remote_field.get_accessor_name()
    if (
        spec_for(related) is not None
        and accessor
        and not field.remote_field.hidden
        and target.target_field.primary_key  # type: ignore[union-attr]
    ):
        sides.append(Side(related, accessor, declaring, False))
    return sides


def connect(model: type[models.Model]) -> None:
    """Record the memberships of ``model``'s relations (``model`` tracked).

    Its own many-to-many fields as soon as their through models exist; when
    the models are ready, those of other models pointing at it too.
    """
    for field in model._meta.local_many_to_many:
        through = field.remote_field.through  # a model, or its name until that model is loaded
        assert through is not None
        lazy_related_operation(_connect_through, model, through, field=field)
    if apps.models_ready:
        connect_relations()


def connect_relations() -> None:
    """Record the memberships of every relation with a tracked side (once the models are ready)."""
    for model in apps.get_models():
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if isinstance(through, type) and sides_of(field):
                _connect_through(model, through, field)


def _connect_through(model: type[models.Model], through: type[models.Model], field: Any) -> None:
    _relations[through] = field
    uid = f"revy:m2m:{through._meta.label}"
    m2m_changed.connect(record_membership_change, sender=through, weak=False, dispatch_uid=uid)


def sides_for(model: type[models.Model]) -> list[Side]:
    """The tracked sides of the relations of ``model`` (or of its concrete model)."""
    concrete = model._meta.concrete_model
    return [side for field in list(_relations.values()) for side in sides_of(field) if side.model is concrete]


def side_named(model: type[models.Model], name: str) -> Side | None:
    """The tracked side of a relation that ``model`` (or its concrete model) calls ``name``, if any."""
    return next((side for side in sides_for(model) if side.name == name), None)


# Recording


def _through_columns(field: models.ManyToManyField, reverse: bool) -> tuple[str, str]:
    """The through model's key columns (attnames) of the instance's side and of its members."""
    through = field.remote_field.through._meta  # type: ignore[union-attr]
    source = through.get_field(field.m2m_field_name()).attname  # type: ignore[union-attr]
    target = through.get_field(field.m2m_reverse_field_name()).attname  # type: ignore[union-attr]
    return (target, source) if reverse else (source, target)


def _members_now(
    through: type[models.Model], field: models.ManyToManyField, instance: models.Model, reverse: bool, using: str,
    among: set[Any] | None,
) -> set[Any]:
    own, member = _through_columns(field, reverse)
    rows = through._base_manager.using(using).filter(**{own: instance.pk})
    if among is not None:
        rows = rows.filter(**{f"{member}__in": among})
    return set(rows.values_list(member, flat=True))


def record_membership_change(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    reverse: bool,
    pk_set: set[Any] | None,
    using: str,
    **kwargs: Any,
) -> None:
    if Context.is_disabled():
        return
    field = _relations[sender]
    if action in ("pre_remove", "pre_clear"):
        # Django removes the keys it is given, members or not: note which ones are.
        leaving = _members_now(sender, field, instance, reverse, using, pk_set if action == "pre_remove" else None)
        instance.__dict__.setdefault(MEMBERS_ATTRIBUTE, {})[sender] = leaving
        return
    if action == "post_add":
        members, joined = set(pk_set or ()), True
    elif action in ("post_remove", "post_clear"):
        members, joined = instance.__dict__.get(MEMBERS_ATTRIBUTE, {}).pop(sender, set()), False
    else:
        return
    if not members:
        return
    # (declaring object, related object) of each membership that changed.
    pairs = [(member, instance.pk) if reverse else (instance.pk, member) for member in members]
    if field.remote_field.symmetrical and field.model is field.related_model:
        pairs += [(b, a) for a, b in pairs]  # Django writes the mirror rows too
    writer.write(using, membership_entries(field, pairs, joined))


def membership_entries(field: models.ManyToManyField, pairs: list[tuple[Any, Any]], joined: bool) -> list[ObjectEntry]:
    """An UPDATE per object of each tracked side, with an attribute delta per member that joined or left."""
    actor = Context.get_actor()
    object_description = Context.get_object_delta_description()
    description = Context.get_attribute_delta_description()
    entries = []
    for side in sides_of(field):
        by_object: dict[Any, list[Any]] = defaultdict(list)
        for declaring, related in pairs:
            own, member = (declaring, related) if side.forward else (related, declaring)
            by_object[own].append(member)
        for own, members in by_object.items():
            attributes = [
                AttributeEntry(side.name, ACTION_SET, actor, description, None, member)
                if joined
                else AttributeEntry(side.name, ACTION_UNSET, actor, description, member, None)
                for member in sorted(members, key=str)
            ]
            entries.append(ObjectEntry(side.model, own, ACTION_UPDATE, actor, object_description, attributes))
    return entries


def members_now(model: type[models.Model], pks: list[Any], using: str) -> list[tuple[Side, dict[Any, list[Any]]]]:
    """Each tracked side of ``model``'s relations, with the members each object of ``pks`` has now.

    One query per side, whatever the number of objects.
    """
    concrete = model._meta.concrete_model
    found = []
    for through, field in list(_relations.items()):
        for side in sides_of(field):
            if side.model is not concrete:
                continue
            own, member = _through_columns(field, reverse=not side.forward)
            by_object: dict[Any, list[Any]] = defaultdict(list)
            rows = through._base_manager.using(using).filter(**{f"{own}__in": pks}).values_list(own, member)
            for own_pk, member_pk in rows:
                by_object[own_pk].append(member_pk)
            found.append((side, by_object))
    return found


# Reading


def _attribute_delta_model() -> type[models.Model]:
    return apps.get_model(conf.attribute_delta_model_label())


def _membership_rows(obj: models.Model, name: str) -> Any:
    using = obj._state.db
    return (
        _attribute_delta_model()
        ._base_manager.using(using)
        .filter(content_type_id=content_type_of(obj, using).pk, content_id=str(obj.pk), field_name=name)
    )


def members_at(
    obj: models.Model,
    name: str,
    *,
    delta: models.Model | None = None,
    when: datetime.datetime | None = None,
    undoing: models.Model | None = None,
) -> set[Any]:
    """The keys of the members ``obj``'s relation ``name`` had right after ``delta``, or at ``when``.

    With neither, the members recorded last. Only what was recorded counts:
    members a relation had before tracking began are unknown. A member whose
    deletion is recorded after it joined (and that has not joined again)
    left then: deleting an object deletes its rows of the through tables
    without a ``m2m_changed``, and its DELETE delta is the record of it.
    Deletions in the revision ``undoing`` do not count: its undo puts those
    members back first.
    """
    side = side_named(type(obj), name)
    if side is None:
        raise ValueError(f"{type(obj).__name__}.{name} is no many-to-many relation revy records.")
    rows = _membership_rows(obj, name)
    if delta is not None:
        rows = rows.filter(object_delta_id__lte=delta.pk)
    if when is not None:
        rows = rows.filter(created_at__lte=when)
    to_python = side.other._meta.pk.to_python
    joined: dict[Any, Any] = {}  # member -> the object delta it joined in
    for delta_pk, action, old, new in rows.order_by("pk").values_list(
        "object_delta_id", "action", "old_value", "new_value"
    ):
        if action == ACTION_SET:
            joined[to_python(new)] = delta_pk
        else:
            joined.pop(to_python(old), None)
    gone = _deleted_after(side.other, joined, obj._state.db, delta, when, undoing)
    return {member for member in joined if member not in gone}


def _deleted_after(
    model: type[models.Model],
    joined: dict[Any, Any],
    using: str | None,
    delta: models.Model | None,
    when: datetime.datetime | None,
    undoing: models.Model | None,
) -> set[Any]:
    """The members of ``joined`` whose newest DELETE, up to ``delta`` or ``when``, came after they joined."""
    if not joined or spec_for(model) is None:
        return set()
    deletes = (
        apps.get_model(conf.object_delta_model_label())
        ._base_manager.using(using)
        .filter(content_type_id=content_type_of(model, using).pk, action=ACTION_DELETE)
    )
    if delta is not None:
        deletes = deletes.filter(pk__lte=delta.pk)
    if when is not None:
        deletes = deletes.filter(created_at__lte=when)
    if undoing is not None:
        deletes = deletes.exclude(revision_id=undoing.pk)
    by_key = {str(member): member for member in joined}
    keys = list(by_key)
    gone = set()
    for start in range(0, len(keys), MEMBERS_PER_QUERY):
        chunk = deletes.filter(content_id__in=keys[start : start + MEMBERS_PER_QUERY])
        for key, deleted in chunk.order_by().values_list("content_id").annotate(newest=Max("pk")):
            if deleted > joined[by_key[key]]:
                gone.add(by_key[key])
    return gone


# Putting back


def restore_memberships(obj: models.Model, delta: models.Model) -> None:
    """Give ``obj`` back the members of each recorded relation as they were right after ``delta``."""
    for side in sides_for(type(obj)):
        if _membership_rows(obj, side.name).exists():
            members = members_at(obj, side.name, delta=delta)
            _write(obj, side.name, lambda manager, members=members: manager.set(members))


def _restore_members_of_deleted(revision: models.Model, using: str) -> None:
    """Give each object ``revision`` deleted (and the undo put back) the members it had just before.

    Deleting an object deletes its rows of the through tables without a
    ``m2m_changed``; what it had is known from the memberships recorded up
    to its delete. Members gone since are left out; the rows of an explicit
    through model take their defaults.
    """
    delta_model = apps.get_model(conf.object_delta_model_label())
    deletes = (
        delta_model._base_manager.using(using)
        .filter(revision=revision, action=ACTION_DELETE)
        .values_list("pk", "content_type_id", "content_id")
    )
    for delta_pk, type_id, content_id in deletes:
        model = model_of(type_id, using)
        sides = [] if model is None else sides_for(model)
        if not sides:
            continue
        assert model is not None
        obj = model._base_manager.using(using).filter(pk=model._meta.pk.to_python(content_id)).first()
        if obj is None:
            continue
        for side in sides:
            members = members_at(obj, side.name, delta=delta_model(pk=delta_pk), undoing=revision)
            alive = list(side.other._base_manager.using(using).filter(pk__in=members).values_list("pk", flat=True))
            if alive:
                _write(obj, side.name, lambda manager, alive=alive: manager.add(*alive))


def revert_memberships(revision: models.Model, using: str) -> None:
    """Undo the membership changes of ``revision``: members it added leave, members it removed come back.

    Each relation is put back through one side: the declaring one when it is
    tracked, so the same change recorded on both sides is undone once.
    Objects the revision deleted get their members back first.
    """
    _restore_members_of_deleted(revision, using)
    first_actions: dict[tuple[int, str, str], dict[Any, int]] = defaultdict(dict)
    rows = (
        AttributeDeltaQuerySet(_attribute_delta_model(), using=using)
        .of_revision(revision)
        .order_by("pk")
        .values_list("content_type_id", "content_id", "field_name", "action", "old_value", "new_value")
    )
    for type_id, content_id, name, action, old, new in rows:
        model = model_of(type_id, using)
        side = None if model is None else side_named(model, name)
        if side is None or (not side.forward and spec_for(side.other) is not None):
            continue
        first_actions[(type_id, content_id, name)].setdefault(new if action == ACTION_SET else old, action)
    for (type_id, content_id, name), members in first_actions.items():
        model = model_of(type_id, using)
        assert model is not None
        obj = model._base_manager.using(using).filter(pk=model._meta.pk.to_python(content_id)).first()
        if obj is None:
            continue  # deleted since and not restored by this undo: it has no relations to put back
        added = [member for member, action in members.items() if action == ACTION_SET]
        removed = [member for member, action in members.items() if action == ACTION_UNSET]

        def put_back(manager: Any, added: list[Any] = added, removed: list[Any] = removed) -> None:
            manager.remove(*added)
            manager.add(*removed)

        _write(obj, name, put_back)


def _write(obj: models.Model, name: str, change: Any) -> None:
    try:
        change(getattr(obj, name))
    except IntegrityError as error:
        raise RevertConflict(
            f"Cannot restore the members of {obj._meta.label} {obj.pk}.{name}: {error}", obj=obj, field=name
        ) from error
