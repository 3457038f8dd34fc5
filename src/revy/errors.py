"""Errors raised by revy, each named for what went wrong."""

from __future__ import annotations

import stackholm


class RevyError(Exception):
    """Base class of every error revy raises."""


class NoActiveContext(RevyError, stackholm.NoContextIsActive):
    """A ``Context.set_*()`` or ``disable()``/``enable()`` was called outside any scope."""

    def __init__(self, message: str = "No revy context is active: wrap the code in `with Context():`."):
        super().__init__(message)


class RegistrationError(RevyError):
    """A model cannot be tracked with the options given."""


class InvalidActor(RevyError, TypeError):
    """The context's actor is neither a saved model instance nor None (the system)."""


class MisconfiguredModel(RevyError):
    """A swapped revy model (``REVY_*_MODEL``) lacks fields of revy's abstract base."""


class EncodingError(RevyError, TypeError):
    """A field value cannot be stored as JSON by the configured encoder."""


class RevertConflict(RevyError):
    """Putting back a recorded state would break a constraint of the database.

    ``obj`` is the instance that could not be written back and ``field`` the
    name of the field at fault (or None when it cannot be told).
    """

    def __init__(self, message: str, obj: object = None, field: str | None = None):
        super().__init__(message)
        self.obj = obj
        self.field = field


class DifferentObjects(RevyError, ValueError):
    """Two deltas compared with ``diff()`` belong to different objects."""
