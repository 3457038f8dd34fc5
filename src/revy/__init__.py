"""revy: field-by-field revision history for Django models.

The context API is plain Python and imports without Django settings; the
Django parts (``RevyTrackedModel``, ``register``, signals) load on first use,
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
)

if TYPE_CHECKING:
    from revy import signals
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
    "register",
    "signals",
]

_LAZY = {
    "RevyTrackedModel": "revy.contrib.django.tracking",
    "register": "revy.contrib.django.tracking",
    "signals": "revy.signals",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'revy' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(module_name)
    return module if name == "signals" else getattr(module, name)
