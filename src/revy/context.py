"""The context API: scopes that say who changes what, why, and in which revision.

Plain Python; importing it needs no Django settings.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import stackholm

from revy.errors import NoActiveContext
from revy.storage import TaskLocalStorage

F = TypeVar("F", bound=Callable[..., Any])

KEYS = frozenset(
    {
        "revision",
        "revision_description",
        "actor",
        "object_delta_description",
        "attribute_delta_description",
        "deletion_description",
        "disabled",
    }
)

storage = TaskLocalStorage()


class LazyRevision:
    """A revision given as a zero-argument callable, called once when first needed."""

    __slots__ = ("_factory", "_revision")

    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._revision: Any = None

    def resolve(self) -> Any:
        if self._revision is None:
            self._revision = self._factory()
        return self._revision


def _get(key: str, default: Any = None) -> Any:
    return storage.get_value(key, default)


def _set(key: str, value: Any) -> None:
    if storage.top is None:
        raise NoActiveContext(f"Context.set_{key}() needs an active context: call it inside `with Context():`.")
    storage.set_value(key, value)


def _unset(key: str) -> None:
    if storage.top is not None:
        storage.unset_value(key)


def _reset(key: str) -> None:
    if storage.top is not None:
        storage.reset_value(key)


class _BaseContext(stackholm.Context):
    """One scope on the stack, usable as ``with``, ``async with`` and decorator.

    A scope keeps no state of its own once built: each ``with`` or decorated
    call pushes a fresh frame, so one instance can be entered re-entrantly,
    recursively and from many tasks at once.
    """

    def __init__(self, **values: Any) -> None:
        super().__init__()
        unknown = set(values) - KEYS
        if unknown:
            raise TypeError(f"Unknown context keys: {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}.")
        if callable(values.get("revision")):
            values["revision"] = LazyRevision(values["revision"])
        self._checkpoint_data = values

    def __repr__(self) -> str:
        return f"Context({', '.join(f'{k}={v!r}' for k, v in self._checkpoint_data.items())})"

    def activate(self) -> Context:
        storage.push_with_values(self, self._checkpoint_data)
        return self  # type: ignore[return-value]

    def deactivate(self) -> None:
        storage.pop_checked(self)

    @property
    def is_active(self) -> bool:
        frame = storage.top
        while frame is not None:
            if frame.context is self:
                return True
            frame = frame.parent
        return False

    def __enter__(self) -> Context:
        return self.activate()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.deactivate()

    async def __aenter__(self) -> Context:
        return self.activate()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.deactivate()

    def __call__(self, func: F) -> F:  # type: ignore[override]
        """Run every call of ``func`` (sync or async) in a fresh scope."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_scoped(*args: Any, **kwargs: Any) -> Any:
                async with self:
                    return await func(*args, **kwargs)

            return async_scoped  # type: ignore[return-value]

        @functools.wraps(func)
        def scoped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return scoped  # type: ignore[return-value]


class Context(_BaseContext):
    """A scope of revy's context stack.

    ``with Context.via_actor(user), Context.via_revision_description("Import"):``
    makes every tracked change inside the block attributed to ``user`` and
    grouped in one revision described "Import". ``Context()`` opens a scope
    with no values; ``Context.via(**values)`` one with several.

    Outside any scope tracking is off. Values set inside a scope vanish when
    it is left. Each thread and asyncio task has its own stack: a task starts
    with the values visible where it was created and never changes its
    parent's.
    """

    @classmethod
    def via(cls, **values: Any) -> Context:
        """A new scope holding ``values`` (keys as in ``via_*``)."""
        return cls(**values)

    @classmethod
    def current(cls) -> Context | None:
        """The innermost active scope, or None."""
        top = storage.top
        return None if top is None else top.context  # type: ignore[return-value]

    @classmethod
    def outermost_data(cls) -> dict[str, Any] | None:
        """A dict shared by every scope under the current outermost one (None outside)."""
        top = storage.top
        return None if top is None else top.outermost

    # Enabled / disabled.

    @classmethod
    def is_disabled(cls) -> bool:
        """True when no scope is active or the nearest ``disabled`` flag is set."""
        return storage.top is None or bool(_get("disabled", False))

    @classmethod
    def is_enabled(cls) -> bool:
        return not cls.is_disabled()

    @classmethod
    def disable(cls) -> None:
        """Stop tracking in the innermost scope (until ``enable()`` or its end)."""
        _set("disabled", True)

    @classmethod
    def enable(cls) -> None:
        _set("disabled", False)

    @classmethod
    def as_disabled(cls) -> Context:
        """A new scope in which tracking is off."""
        return cls(disabled=True)

    @classmethod
    def as_enabled(cls) -> Context:
        """A new scope in which tracking is on."""
        return cls(disabled=False)

    # revision: a Revision, or a zero-argument callable returning one.

    @classmethod
    def get_revision(cls) -> Any:
        value = _get("revision")
        return value.resolve() if isinstance(value, LazyRevision) else value

    @classmethod
    def set_revision(cls, revision: Any) -> None:
        _set("revision", LazyRevision(revision) if callable(revision) else revision)

    @classmethod
    def unset_revision(cls) -> None:
        _unset("revision")

    @classmethod
    def reset_revision(cls) -> None:
        _reset("revision")

    @classmethod
    def via_revision(cls, revision: Any) -> Context:
        return cls(revision=revision)

    # revision_description

    @classmethod
    def get_revision_description(cls) -> str:
        return _get("revision_description") or ""

    @classmethod
    def set_revision_description(cls, description: str | None) -> None:
        _set("revision_description", description)

    @classmethod
    def unset_revision_description(cls) -> None:
        _unset("revision_description")

    @classmethod
    def reset_revision_description(cls) -> None:
        _reset("revision_description")

    @classmethod
    def via_revision_description(cls, description: str | None) -> Context:
        return cls(revision_description=description)

    # actor: any model instance, or None for the system.

    @classmethod
    def get_actor(cls) -> Any:
        return _get("actor")

    @classmethod
    def set_actor(cls, actor: Any) -> None:
        _set("actor", actor)

    @classmethod
    def unset_actor(cls) -> None:
        _unset("actor")

    @classmethod
    def reset_actor(cls) -> None:
        _reset("actor")

    @classmethod
    def via_actor(cls, actor: Any) -> Context:
        return cls(actor=actor)

    # object_delta_description

    @classmethod
    def get_object_delta_description(cls) -> str:
        return _get("object_delta_description") or ""

    @classmethod
    def set_object_delta_description(cls, description: str | None) -> None:
        _set("object_delta_description", description)

    @classmethod
    def unset_object_delta_description(cls) -> None:
        _unset("object_delta_description")

    @classmethod
    def reset_object_delta_description(cls) -> None:
        _reset("object_delta_description")

    @classmethod
    def via_object_delta_description(cls, description: str | None) -> Context:
        return cls(object_delta_description=description)

    # attribute_delta_description

    @classmethod
    def get_attribute_delta_description(cls) -> str:
        return _get("attribute_delta_description") or ""

    @classmethod
    def set_attribute_delta_description(cls, description: str | None) -> None:
        _set("attribute_delta_description", description)

    @classmethod
    def unset_attribute_delta_description(cls) -> None:
        _unset("attribute_delta_description")

    @classmethod
    def reset_attribute_delta_description(cls) -> None:
        _reset("attribute_delta_description")

    @classmethod
    def via_attribute_delta_description(cls, description: str | None) -> Context:
        return cls(attribute_delta_description=description)

    # deletion_description

    @classmethod
    def get_deletion_description(cls) -> str:
        return _get("deletion_description") or ""

    @classmethod
    def set_deletion_description(cls, description: str | None) -> None:
        _set("deletion_description", description)

    @classmethod
    def unset_deletion_description(cls) -> None:
        _unset("deletion_description")

    @classmethod
    def reset_deletion_description(cls) -> None:
        _reset("deletion_description")

    @classmethod
    def via_deletion_description(cls, description: str | None) -> Context:
        return cls(deletion_description=description)


Context._storage = storage
