"""revy's models: revisions, object deltas and attribute deltas.

Each has an abstract base to build a swapped model from (see ``conf``), and a
``get_*_model()`` helper that returns the model in use. The deletion handlers
(``CASCADE``, ``SET``, ``SET_NULL``, ``SET_DEFAULT``) and ``ObjectSnapshot``
are importable from here too.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.expressions import Col
from django.utils import timezone

from revy.contrib.django import actions, conf
from revy.contrib.django.actors import DeletedActor, load_actors
from revy.contrib.django.deletion import CASCADE, SET, SET_DEFAULT, SET_NULL
from revy.contrib.django.diffs import changes_of, diff
from revy.contrib.django.history import revert_revision
from revy.contrib.django.managers import AttributeDeltaQuerySet, ObjectDeltaQuerySet, RevisionQuerySet
from revy.contrib.django.snapshot import ObjectSnapshot

__all__ = [
    "CASCADE",
    "SET",
    "SET_DEFAULT",
    "SET_NULL",
    "AbstractAttributeDelta",
    "AbstractObjectDelta",
    "AbstractRevision",
    "AttributeDelta",
    "ObjectDelta",
    "ObjectSnapshot",
    "Revision",
    "get_attribute_delta_model",
    "get_object_delta_model",
    "get_revision_model",
]


_decode = json.JSONDecoder().raw_decode


class StoredJSONField(models.JSONField):
    """The JSON column of deltas, encoded with ``REVY_JSON_ENCODER``.

    The encoder is looked up when a value is written, not when the model is
    defined, so a misspelt setting is reported by check ``revy.E004``
    instead of breaking the import of every model.
    """

    @property
    def encoder(self) -> type[json.JSONEncoder]:
        return conf.json_encoder()

    @encoder.setter
    def encoder(self, value: Any) -> None:
        """Ignored: the setting decides (JSONField's ``__init__`` assigns its argument)."""

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        kwargs.pop("encoder", None)
        return name, "revy.contrib.django.models.StoredJSONField", args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if isinstance(value, str) and isinstance(expression, Col) and self.decoder is None:
            # The column as stored, always valid JSON: json.loads() would check the
            # text's ends again, four times the cost of decoding a value this small.
            return _decode(value)[0]
        return super().from_db_value(value, expression, connection)


class AbstractRevision(models.Model):
    """A set of deltas made together, by one or more actors."""

    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = RevisionQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"Revision {self.pk}: {self.description}" if self.description else f"Revision {self.pk}"

    def actors(self) -> list[Any]:
        """The distinct actors of this revision's deltas: ``None`` for the system, a ``DeletedActor`` for one gone.

        One query for the actor keys and one per actor model, however many
        deltas the revision has.
        """
        rows = (
            AttributeDeltaQuerySet(get_attribute_delta_model(), using=self._state.db)
            .of_revision(self)
            .order_by()
            .values_list("actor_content_type_id", "actor_id", "actor_label")
            .distinct()
        )
        return list(load_actors(rows, self._state.db).values())

    def revert(self) -> Any:
        """Undo this revision: restore what it deleted, put back what it changed.

        Runs atomically and is recorded as a new revision when a context is
        active. Raises ``revy.RevertConflict`` naming the object and field when
        a value cannot be put back; then nothing changes. Returns the new
        revision, or None outside a context.
        """
        return revert_revision(self)


class DeltaBase(models.Model):
    """What object and attribute deltas share: who, what, how and why."""

    ACTION_CHOICES: list[tuple[int, str]] = []

    # Content types are never deleted under a running site, so their keys go
    # without a database constraint: each constraint is one more lookup per
    # delta row at every commit, and on MariaDB one more index to write.
    actor_content_type = models.ForeignKey(
        ContentType, models.CASCADE, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    actor_id = models.CharField(max_length=255, null=True, blank=True)
    actor = GenericForeignKey("actor_content_type", "actor_id")
    # The actor's name when the delta was written (REVY_ACTOR_LABEL), kept after the actor is deleted.
    actor_label = models.TextField(blank=True, default="")
    action = models.PositiveSmallIntegerField()
    description = models.TextField(blank=True, default="")
    content_type = models.ForeignKey(ContentType, models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    content_id = models.CharField(max_length=255)
    content_object = GenericForeignKey("content_type", "content_id")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def get_action_display(self) -> str:
        """The action's name: ``"create"``, ``"update"``, ``"delete"``, ``"set"`` or ``"unset"``."""
        return dict(self.ACTION_CHOICES).get(self.action, str(self.action))

    @property
    def actor_or_deleted(self) -> Any:
        """The actor; a ``DeletedActor`` (its recorded label) when its row is gone; None for the system."""
        if self.actor_content_type_id is None:
            return None
        actor = self.actor
        if actor is None:
            return DeletedActor(self.actor_content_type_id, str(self.actor_id), self.actor_label)
        return actor


class AbstractObjectDelta(DeltaBase):
    """One create, update or delete of one object."""

    ACTION_CREATE = actions.CREATE
    ACTION_UPDATE = actions.UPDATE
    ACTION_DELETE = actions.DELETE
    ACTION_CHOICES = [(ACTION_CREATE, "create"), (ACTION_UPDATE, "update"), (ACTION_DELETE, "delete")]

    # Deltas and their revision are written together by revy, in one transaction (on PostgreSQL often one
    # statement), and deleted together through Django's CASCADE; a database constraint would only check
    # each row again, at a cost that showed in every write and tripled the COMMIT of a large cascade.
    revision = models.ForeignKey(
        conf.revision_model_label(), models.CASCADE, related_name="object_deltas", db_constraint=False
    )
    # The object's tracked fields after an update that wrote every one (a save() without update_fields
    # or deferred fields), by name. Null otherwise: a create's and a delete's attribute deltas hold every
    # field, and snapshots of other updates (update_fields, update(), ...) fold the attribute deltas.
    # JSON as the attribute deltas' values are, so that the database normalizes both alike (jsonb).
    state = StoredJSONField(null=True, blank=True, editable=False)

    objects = ObjectDeltaQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["content_type", "content_id", "id"]),
            models.Index(fields=["actor_content_type", "actor_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.content_type_id}:{self.content_id}"

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Each field this delta set or unset: name -> (old, new), typed as the model loads them.

        Reads ``attribute_deltas.all()``, so ``prefetch_related("attribute_deltas")`` serves a page of them.
        """
        return changes_of(self, self.attribute_deltas.all())  # type: ignore[attr-defined]

    def diff(self, other: AbstractObjectDelta) -> dict[str, tuple[Any, Any]]:
        """The fields whose values differ between this delta's object state and ``other``'s (same object).

        name -> (value here, value at ``other``), typed; both states come from one snapshot query.
        """
        return diff(self, other)


class AbstractAttributeDelta(DeltaBase):
    """One field of one object set (to ``new_value``) or unset (from ``old_value``)."""

    ACTION_SET = actions.SET
    ACTION_UNSET = actions.UNSET
    ACTION_CHOICES = [(ACTION_SET, "set"), (ACTION_UNSET, "unset")]

    # Always its object delta's revision. Neither key has a database constraint (see the object delta's revision).
    revision = models.ForeignKey(
        conf.revision_model_label(),
        models.CASCADE,
        related_name="attribute_deltas",
        db_index=False,
        db_constraint=False,
    )
    object_delta = models.ForeignKey(
        conf.object_delta_model_label(), models.CASCADE, related_name="attribute_deltas", db_constraint=False
    )
    field_name = models.CharField(max_length=255)
    old_value = StoredJSONField(null=True, blank=True)
    new_value = StoredJSONField(null=True, blank=True)

    objects = AttributeDeltaQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["content_type", "content_id", "field_name", "object_delta"]),
        ]

    def __str__(self) -> str:
        return f"{self.field_name}: {self.old_value!r} -> {self.new_value!r}"


class Revision(AbstractRevision):
    class Meta(AbstractRevision.Meta):
        swappable = conf.REVISION_MODEL_SETTING


class ObjectDelta(AbstractObjectDelta):
    class Meta(AbstractObjectDelta.Meta):
        swappable = conf.OBJECT_DELTA_MODEL_SETTING


class AttributeDelta(AbstractAttributeDelta):
    class Meta(AbstractAttributeDelta.Meta):
        swappable = conf.ATTRIBUTE_DELTA_MODEL_SETTING


def get_revision_model() -> type[AbstractRevision]:
    """The revision model in use (``REVY_REVISION_MODEL``)."""
    return apps.get_model(conf.revision_model_label(), require_ready=False)


def get_object_delta_model() -> type[AbstractObjectDelta]:
    """The object delta model in use (``REVY_OBJECT_DELTA_MODEL``)."""
    return apps.get_model(conf.object_delta_model_label(), require_ready=False)


def get_attribute_delta_model() -> type[AbstractAttributeDelta]:
    """The attribute delta model in use (``REVY_ATTRIBUTE_DELTA_MODEL``)."""
    return apps.get_model(conf.attribute_delta_model_label(), require_ready=False)
