"""Who made a delta: the actor's row while it exists, a ``DeletedActor`` once it is gone, None for the system.

Every delta keeps its actor's key (content type and id text) and a label
written with it (``REVY_ACTOR_LABEL``), so an actor deleted since is still
named, and never mistaken for the system.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from revy.contrib.django.content_types import model_of

ActorKey = tuple[int | None, str | None]


@dataclass(frozen=True)
class DeletedActor:
    """An actor whose row has been deleted since it made a delta: its key and the label it was recorded with.

    ``str()`` gives the label. ``ObjectDelta.objects.by_actor(deleted_actor)``
    selects its deltas like those of a live actor.
    """

    content_type_id: int
    pk: str
    label: str

    def __str__(self) -> str:
        return self.label


def load_actors(rows: Iterable[tuple[int | None, str | None, str]], using: str | None = None) -> dict[ActorKey, Any]:
    """The actor of each distinct (content type id, id text, label) row, by key.

    One query per actor model. The system's key (None, None) maps to None; an
    actor whose row is gone (or whose model is no longer installed) to a
    ``DeletedActor`` with the label recorded.
    """
    labels: dict[ActorKey, str] = {}
    for type_id, actor_id, label in rows:
        if labels.get((type_id, actor_id)) is None or label:
            labels[(type_id, actor_id)] = label or ""
    ids_by_type: dict[int, list[str]] = {}
    for type_id, actor_id in labels:
        if type_id is not None and actor_id is not None:
            ids_by_type.setdefault(type_id, []).append(actor_id)
    actors: dict[ActorKey, Any] = {}
    for type_id, ids in ids_by_type.items():
        model = model_of(type_id, using)
        if model is None:
            continue
        pk = model._meta.pk
        assert pk is not None
        found = model._base_manager.using(using).in_bulk([pk.to_python(i) for i in ids])
        actors.update({(type_id, str(obj.pk)): obj for obj in found.values()})
    for (type_id, actor_id), label in labels.items():
        if type_id is None:
            actors[(None, None)] = None
        elif (type_id, actor_id) not in actors:
            actors[(type_id, actor_id)] = DeletedActor(type_id, str(actor_id), label)
    return actors


def actors_of(records: Iterable[Any], using: str | None = None) -> dict[ActorKey, Any]:
    """The actors of history records (``records()``) and of each of their field changes, by key."""
    records = list(records)
    keys = [(r.actor_content_type_id, r.actor_id, r.actor_label) for r in records]
    keys += [(c.actor_content_type_id, c.actor_id, c.actor_label) for r in records for c in r.changes.values()]
    return load_actors(keys, using)
