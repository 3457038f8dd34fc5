"""revy: field-by-field revision history for Django models.

The context API is plain Python and imports without Django settings; the
Django parts (``RevyTrackedModel``, ``register``, signals, the bulk write
functions ``bulk_create``, ``bulk_update`` and ``update``) load on first use,
so ``from revy import RevyTrackedModel`` works inside a ``models.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from revy.context import Context, LazyActor
from revy.errors import (
    DifferentObjects,
    EncodingError,
    InvalidActor,
    MisconfiguredModel,
    NoActiveContext,
    RegistrationError,
    RevertConflict,
    RevyError,
    UnrecordableWrite,
)

if TYPE_CHECKING:
    from revy import signals
    from revy.contrib.django.querysets import bulk_create, bulk_update, update
    from revy.contrib.django.tracking import RevyTrackedModel, register

__all__ = [
    "Context",
    "DifferentObjects",
    "EncodingError",
    "InvalidActor",
    "LazyActor",
    "MisconfiguredModel",
    "NoActiveContext",
    "RegistrationError",
    "RevertConflict",
    "RevyError",
    "RevyTrackedModel",
    "UnrecordableWrite",
    "bulk_create",
    "bulk_update",
    "register",
    "signals",
    "update",
]

_LAZY = {
    "RevyTrackedModel": "revy.contrib.django.tracking",
    "register": "revy.contrib.django.tracking",
    "signals": "revy.signals",
    "bulk_create": "revy.contrib.django.querysets",
    "bulk_update": "revy.contrib.django.querysets",
    "update": "revy.contrib.django.querysets",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'revy' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(module_name)
    return module if name == "signals" else getattr(module, name)
