"""Which models are tracked, and how: ``RevyTrackedModel`` and ``register()``.

Every tracked model gets its own ``FieldTracker`` (django-model-utils) that
knows the values each instance was loaded or last saved with; revy's
receivers read it to record what a save changed. The tracker is also where
saves become one transaction: while a context records, a tracked
``save()`` runs in ``transaction.atomic(savepoint=False)``, so the change and
its deltas commit or roll back together without a SAVEPOINT inside a
caller's transaction.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar

from django.apps import apps
from django.db import models, router
from django.db.models.signals import class_prepared
from model_utils import FieldTracker
from model_utils.tracker import FieldInstanceTracker, lightweight_deepcopy

from revy.context import Context
from revy.contrib.django.querysets import RevyManager
from revy.errors import RegistrationError

M = TypeVar("M", bound=type[models.Model])

TRACKER_NAME = "revy_tracker"
# Who assigned each field (actor, description), kept on the instance until it is saved.
ATTRIBUTION_ATTRIBUTE = "_revy_attribution"


@dataclass(frozen=True)
class TrackingSpec:
    """How one concrete model is tracked."""

    model: type[models.Model]
    fields: tuple[models.Field, ...]
    options: tuple[tuple[str, ...] | None, tuple[str, ...]]

    @property
    def attnames(self) -> frozenset[str]:
        return frozenset(field.attname for field in self.fields)

    @property
    def pk_has_default(self) -> bool:
        """Whether a new instance gets its pk before saving, so Django always INSERTs it."""
        pk = self.model._meta.pk
        assert pk is not None
        return pk.has_default() or pk.has_db_default()


_specs: dict[type[models.Model], TrackingSpec] = {}


def spec_for(model: type[models.Model]) -> TrackingSpec | None:
    """The tracking of ``model`` (or of the concrete model of a proxy), if any."""
    spec = _specs.get(model)
    if spec is None and model._meta.proxy:
        spec = _specs.get(model._meta.concrete_model)  # type: ignore[arg-type]
    return spec


def tracked_models() -> list[type[models.Model]]:
    """Every concrete model revy tracks."""
    return list(_specs)


# Values no one can change in place: the tracker keeps them as they are, not copies.
IMMUTABLE = frozenset(
    {type(None), bool, int, float, str, bytes, Decimal, datetime.datetime, datetime.date, datetime.time}
    | {datetime.timedelta, uuid.UUID}
)


class RevyFieldInstanceTracker(FieldInstanceTracker):
    """FieldTracker's record of one instance, which copies only the values that can change in place.

    Copying every value (FieldTracker's way) is most of what loading a tracked
    instance costs beyond Django's own work.
    """

    def set_saved_fields(self, fields: Iterable[str] | None = None) -> None:
        instance = self.instance
        if not instance.pk:
            self.saved_data = {}
            return
        if fields is None:
            # Every field but the deferred ones, which are the tracked fields (all concrete) not loaded.
            loaded = instance.__dict__
            fields = [name for name in self.fields if name in loaded]
            self.saved_data = {}
        for name in fields:
            value = getattr(instance, self.field_map[name])
            self.saved_data[name] = value if type(value) in IMMUTABLE else lightweight_deepcopy(value)


class RevyFieldTracker(FieldTracker):
    """A FieldTracker whose saves are one transaction while revy records.

    (Or one statement: see ``receivers.OneStatementSave``.)

    A save that fails leaves the tracker as it was: the tracker marks the
    values saved on its way out even when the save raised, and the next save
    would then miss (or misattribute) the changes the rollback undid.

    Unlike FieldTracker, it leaves the fields' descriptors alone. FieldTracker
    wraps each of them to note the database value of a deferred field when it
    is first read or assigned, at the cost of computing the instance's
    deferred fields on every attribute read (``obj.pk`` included) of every
    tracked instance. revy reads the old value of such a field when a save
    needs it instead (see ``receivers.values_before``).
    """

    tracker_class = RevyFieldInstanceTracker

    def initialize_tracker(self, sender: type[models.Model], instance: models.Model, **kwargs: object) -> None:
        # Instances of a multi-table child are tracked by the child's own tracker only.
        if type(instance)._meta.concrete_model is self.model_class:
            # FieldTracker's own steps, with its attributes put straight into the instance's
            # __dict__ rather than through RevyTrackedModel.__setattr__, as every load does.
            tracker = self.tracker_class(instance, self.fields, self.field_map)
            instance.__dict__[self.attname] = tracker
            tracker.set_saved_fields()
            instance.__dict__["_instance_initialized"] = True

    def finalize_class(self, sender: type[models.Model], **kwargs: Any) -> None:
        self.fields = set(self.fields)
        self.field_map = self.get_field_map(sender)
        self.patch_init(sender)
        self.model_class = sender
        setattr(sender, self.name, self)
        self.patch_save(sender)

    def patch_save(self, model: type[models.Model]) -> None:
        from revy.contrib.django.receivers import (
            FOLDS_WRITES,
            SCOPE_ATTRIBUTE,
            WRITE_METHODS,
            delete_scope,
            save_scope,
        )

        super().patch_save(model)
        save_base = model.save_base
        for name in WRITE_METHODS if FOLDS_WRITES else ():
            setattr(model, name, marking_the_write(getattr(model, name), SCOPE_ATTRIBUTE))
        delete = model.delete

        @wraps(delete)
        def tracked_delete(instance: models.Model, using: str | None = None, *args: Any, **kwargs: Any) -> Any:
            if Context.is_disabled():
                return delete(instance, using, *args, **kwargs)
            with delete_scope(instance, using or router.db_for_write(type(instance), instance=instance)):
                return delete(instance, using, *args, **kwargs)

        model.delete = tracked_delete  # type: ignore[method-assign,assignment]

        @wraps(save_base)
        def atomic_save_base(instance: models.Model, *args: Any, **kwargs: Any) -> Any:
            if type(instance)._meta.concrete_model is not model:
                # A multi-table child: its own tracker's wrapper has done this already.
                return save_base(instance, *args, **kwargs)
            tracker = getattr(instance, self.attname)
            saved_data = dict(tracker.saved_data)
            scope = None
            try:
                if kwargs.get("raw") or Context.is_disabled():
                    return save_base(instance, *args, **kwargs)
                using = kwargs.get("using") or router.db_for_write(type(instance), instance=instance)
                with save_scope(instance, using) as scope:
                    return save_base(instance, *args, **kwargs)
            except BaseException:
                if not (scope is not None and getattr(scope, "committed", False)):
                    tracker.saved_data = saved_data  # the database still holds them
                raise

        model.save_base = atomic_save_base  # type: ignore[method-assign,assignment]


def marking_the_write(method: Any, scope_attribute: str) -> Any:
    """``method`` (Django's ``_do_insert`` or ``_do_update``) telling the save's scope while it runs.

    A one-statement save (``receivers.OneStatementSave``) folds its deltas
    into the statement Django runs here, and into no other.
    """

    @wraps(method)
    def write(instance: models.Model, *args: Any, **kwargs: Any) -> Any:
        scope = instance.__dict__.get(scope_attribute)
        if scope is None:
            return method(instance, *args, **kwargs)
        writing, scope.writing = scope.writing, True
        try:
            return method(instance, *args, **kwargs)
        finally:
            scope.writing = writing

    return write


class RevyTrackedModel(models.Model):
    """Inherit it to have every change of your model recorded.

    ``revy_fields`` (names to track, default all concrete fields) and
    ``revy_exclude`` (names to leave out, such as password hashes) are read
    once, when the model class is prepared::

        class Book(RevyTrackedModel):
            title = models.CharField(max_length=200)
            revy_exclude = ("internal_notes",)

    An attribute assigned inside ``Context.via_actor(a)`` keeps ``a`` (and the
    ``attribute_delta_description`` then active) as the author of its
    AttributeDelta, even when the instance is saved later by another actor.
    """

    revy_fields: Iterable[str] | None = None
    revy_exclude: Iterable[str] = ()
    _revy_attnames: frozenset[str] = frozenset()

    # Records bulk_create(), bulk_update() and update() (see revy.contrib.django.querysets).
    objects = RevyManager()

    class Meta:
        abstract = True

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in self._revy_attnames and "_instance_initialized" in self.__dict__:
            note_assignment(self, name)


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


def register(
    model: M | None = None,
    *,
    fields: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> Any:
    """Track a model you do not own, such as ``auth.User``.

    ``revy.register(User, exclude=["password"])``, or as a class decorator
    (``@revy.register`` / ``@revy.register(exclude=[...])``). Registering again
    with the same options does nothing; with other options, or a model that
    cannot be tracked, it raises ``revy.RegistrationError``.
    """
    if model is None:

        def decorator(cls: M) -> M:
            return register(cls, fields=fields, exclude=exclude)

        return decorator
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise RegistrationError(f"revy.register() takes a model class, not {model!r}.")
    if issubclass(model, RevyTrackedModel):
        raise RegistrationError(
            f"{model.__name__} inherits RevyTrackedModel and is tracked already; "
            "set revy_fields / revy_exclude on it instead of registering it."
        )
    _track(model, fields, exclude)
    return model


def _track(model: type[models.Model], fields: Iterable[str] | None, exclude: Iterable[str] | None) -> None:
    label = model.__name__
    if model._meta.abstract:
        raise RegistrationError(f"{label} is abstract; track its concrete subclasses.")
    if model._meta.proxy:
        raise RegistrationError(f"{label} is a proxy; register its concrete model, proxies follow it.")
    if isinstance(fields, str) or isinstance(exclude, str):
        raise RegistrationError("fields and exclude take a list of field names, not a string.")
    # Order does not matter: the same names twice are the same registration.
    options = (None if fields is None else tuple(sorted(set(fields))), tuple(sorted(set(exclude or ()))))
    existing = _specs.get(model)
    if existing is not None:
        if existing.options != options:
            raise RegistrationError(
                f"{label} is registered already with fields={existing.options[0]!r}, exclude={existing.options[1]!r}."
            )
        return
    fields_tracked = _tracked_fields(model, *options)
    from revy.contrib.django.history import attach_history

    attach_history(model)
    _specs[model] = TrackingSpec(model, fields_tracked, options)
    tracker = RevyFieldTracker(fields=[field.attname for field in _specs[model].fields])
    tracker.contribute_to_class(model, TRACKER_NAME)
    tracker.finalize_class(model)
    if issubclass(model, RevyTrackedModel):
        model._revy_attnames = _specs[model].attnames
    from revy.contrib.django import receivers

    receivers.connect(model)
    for other in all_models():
        if other._meta.proxy and other._meta.concrete_model is model:
            receivers.connect(other)
    if apps.models_ready:
        receivers.connect_deletion_targets()


def _tracked_fields(
    model: type[models.Model], fields: tuple[str, ...] | None, exclude: tuple[str, ...]
) -> tuple[models.Field, ...]:
    concrete = {field.name: field for field in model._meta.concrete_fields}
    unknown = sorted(set(fields or ()).union(exclude) - set(concrete))
    if unknown:
        raise RegistrationError(
            f"{model.__name__} has no concrete field named {', '.join(unknown)}; its fields are {', '.join(concrete)}."
        )
    pk_name = model._meta.pk.name
    if pk_name in exclude:
        raise RegistrationError(f"The primary key {pk_name!r} of {model.__name__} is always tracked.")
    names = list(concrete) if fields is None else [pk_name, *(n for n in fields if n != pk_name)]
    return tuple(concrete[name] for name in names if name not in exclude)


def all_models() -> Iterable[type[models.Model]]:
    """Every model class defined so far (usable before the app registry is ready)."""
    for app_models in list(apps.all_models.values()):
        yield from list(app_models.values())


def _on_class_prepared(sender: type[models.Model], **kwargs: Any) -> None:
    if sender._meta.abstract:
        return
    if sender._meta.proxy:
        from revy.contrib.django import receivers

        if spec_for(sender) is not None:
            receivers.connect(sender)
        elif apps.models_ready:  # a proxy of the target of a SET handler, defined late
            receivers.connect_deletion_targets()
        return
    if issubclass(sender, RevyTrackedModel):
        _track(sender, sender.revy_fields, tuple(sender.revy_exclude))


class_prepared.connect(_on_class_prepared, dispatch_uid="revy.tracking")
