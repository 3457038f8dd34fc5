"""Which models revy tracks, and which of their fields: one ``TrackingSpec`` per tracked model.

The registry is filled by ``tracking`` (``RevyTrackedModel`` subclasses as
they are prepared, and ``register()``) and read by everything that records
or reads deltas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.db import models

# The tracker's name on a tracked model; each instance keeps its record under "_" + this.
TRACKER_NAME = "revy_tracker"


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


def all_models() -> Iterable[type[models.Model]]:
    """Every model class defined so far (usable before the app registry is ready)."""
    for app_models in list(apps.all_models.values()):
        yield from list(app_models.values())
