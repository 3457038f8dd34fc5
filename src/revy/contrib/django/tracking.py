"""How a model comes to be tracked: ``RevyTrackedModel``, ``register()`` and the tracker they give it.

Every tracked model gets its own ``FieldTracker`` (django-model-utils) that
knows the values each instance was loaded or last saved with; revy's
receivers read it to record what a save changed. The tracker's own patch of
the model class (``__init__``, ``save_base``, ``refresh_from_db`` and its
name) is the only change revy makes to a model class: its ``save_base``
runs the save as ``recording.save`` records it, and it gives the model its
history manager (``REVY_HISTORY_ATTRIBUTE``). ``RevyTrackedModel`` adds its
behaviour through ordinary methods.
"""

from __future__ import annotations

import datetime
import uuid
import weakref
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar

from django.apps import apps
from django.db import models
from django.db.models.signals import class_prepared
from model_utils import FieldTracker
from model_utils.tracker import FieldInstanceTracker, FieldsContext, lightweight_deepcopy

from revy.contrib.django import recording
from revy.contrib.django.history import attach_history, check_history_attribute
from revy.contrib.django.querysets import RevyManager
from revy.contrib.django.specs import TRACKER_NAME, TrackingSpec, _specs, spec_for
from revy.errors import RegistrationError

M = TypeVar("M", bound=type[models.Model])

# Values no one can change in place: the tracker keeps them as they are, not copies.
IMMUTABLE = frozenset(
    {type(None), bool, int, float, str, bytes, Decimal, datetime.datetime, datetime.date, datetime.time}
    | {datetime.timedelta, uuid.UUID}
)


class RevyFieldInstanceTracker(FieldInstanceTracker):
    """FieldTracker's record of one instance, without a reference cycle, copying only what can change in place.

    FieldTracker's record holds its instance, which holds the record: every
    tracked instance would live on until the garbage collector finds the
    cycle. This one holds it weakly. Copying every value (FieldTracker's way)
    is most of what loading a tracked instance costs beyond Django's own
    work, and fails for a ``memoryview``, kept as its bytes.
    """

    def __init__(self, instance: models.Model, fields: Iterable[str], field_map: Mapping[str, str]):
        self._instance = weakref.ref(instance)
        self.fields = fields
        self.field_map = field_map
        self.state: dict[str, int] = {}  # FieldsContext's count of nested saves, per field

    @property
    def instance(self) -> Any:  # type: ignore[override]
        return self._instance()

    @property
    def context(self) -> FieldsContext:  # type: ignore[override]
        return FieldsContext(self, *self.fields, state=self.state)

    def __call__(self, *fields: str) -> FieldsContext:
        return FieldsContext(self, *fields, state=self.state)

    def set_saved_fields(self, fields: Iterable[str] | None = None) -> None:
        instance = self.instance
        if not instance.pk:
            self.saved_data = {}
            return
        if fields is None:
            self.saved_data = self.copies(instance.__dict__, self.field_map.items())
        else:
            self.saved_data.update(self.copies(instance.__dict__, [(name, self.field_map[name]) for name in fields]))

    @staticmethod
    def copies(loaded: Mapping[str, Any], attnames: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """The values by field name of the (name, attname) fields that ``loaded`` holds, copied where mutable.

        Deferred fields are not known: the tracked fields (all concrete) not loaded.
        """
        saved = {name: loaded[attname] for name, attname in attnames if attname in loaded}
        if not IMMUTABLE.issuperset(map(type, saved.values())):
            for name, value in saved.items():
                if type(value) not in IMMUTABLE:
                    saved[name] = bytes(value) if isinstance(value, memoryview) else lightweight_deepcopy(value)
        return saved


class RevyFieldTracker(FieldTracker):
    """The FieldTracker of a tracked model: saves recorded, a history manager, field descriptors left alone.

    FieldTracker wraps each field's descriptor to note the database value of
    a deferred field when it is first read or assigned, at the cost of
    computing the instance's deferred fields on every attribute read
    (``obj.pk`` included) of every tracked instance. revy reads the old
    value of such a field when a save needs it instead (see
    ``recording.values_before``).
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
        attach_history(sender)
        if issubclass(sender, RevyTrackedModel):
            sender._revy_attnames = frozenset(self.field_map[name] for name in self.fields)

    def patch_save(self, model: type[models.Model]) -> None:
        super().patch_save(model)  # FieldTracker's own: save_base and refresh_from_db note the saved values
        save_base = model.save_base

        @wraps(save_base)
        def recorded_save_base(instance: models.Model, *args: Any, **kwargs: Any) -> Any:
            return recording.save(model, instance, save_base, args, kwargs)

        model.save_base = recorded_save_base  # type: ignore[method-assign,assignment]


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
    # The __setattr__ that super() would call from here, found once per class (see __init_subclass__).
    _revy_next_setattr: Any = object.__setattr__

    # Records bulk_create(), bulk_update() and update() (see revy.contrib.django.querysets).
    objects = RevyManager()

    class Meta:
        abstract = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        after = cls.__mro__[cls.__mro__.index(RevyTrackedModel) + 1 :]  # object, at least, has one
        cls._revy_next_setattr = next(base.__dict__["__setattr__"] for base in after if "__setattr__" in base.__dict__)

    def __setattr__(self, name: str, value: Any) -> None:
        # Every attribute Django sets while loading an instance comes through here: calling the
        # next __setattr__ found once, not super()'s, takes a third off this method's cost.
        self._revy_next_setattr(name, value)
        if "_instance_initialized" in self.__dict__ and name in self._revy_attnames:
            recording.note_assignment(self, name)

    def delete(self, using: str | None = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Django's ``delete()``; on PostgreSQL the deltas of an object deleted alone ride in its DELETE."""
        return recording.delete(self, lambda: super(RevyTrackedModel, self).delete(using, keep_parents), using)


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
    both = sorted(set(options[0] or ()).intersection(options[1]))
    if both:
        raise RegistrationError(f"{label}: {', '.join(both)} cannot be both tracked (fields) and excluded (exclude).")
    check_history_attribute(model)
    _specs[model] = TrackingSpec(model, _tracked_fields(model, *options), options)
    tracker = RevyFieldTracker(fields=[field.attname for field in _specs[model].fields])
    tracker.contribute_to_class(model, TRACKER_NAME)
    tracker.finalize_class(model)
    recording.connect_model(model)


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


def _on_class_prepared(sender: type[models.Model], **kwargs: Any) -> None:
    if sender._meta.abstract:
        return
    if sender._meta.proxy:
        spec = spec_for(sender)
        if spec is not None:
            recording.connect_model(spec.model)
        elif apps.models_ready:  # a proxy of the target of a SET handler, defined late
            recording.connect_deletion_targets()
        return
    if issubclass(sender, RevyTrackedModel):
        _track(sender, sender.revy_fields, tuple(sender.revy_exclude))


class_prepared.connect(_on_class_prepared, dispatch_uid="revy.tracking")
