"""The context API: scopes that say who changes what, why, and in which revision.

Plain Python; importing it needs no Django settings.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import stackholm

from revy.errors import NoActiveContext
from revy.storage import Frame, TaskLocalStorage

F = TypeVar("F", bound=Callable[..., Any])

# Each value key K and what get_K() returns when K is unset: the revision and the actor are None,
# descriptions are ''. A revision given as a callable is resolved once, when first read.
VALUE_KEYS: dict[str, Any] = {
    "revision": None,
    "revision_description": "",
    "actor": None,
    "object_delta_description": "",
    "attribute_delta_description": "",
    "deletion_description": "",
}


KEYS = frozenset(VALUE_KEYS) | {"disabled"}

storage = TaskLocalStorage()


class LazyRevision:
    """A revision given as a zero-argument callable, called once when first needed."""

    __slots__ = ("_factory", "_lock", "_resolved", "_revision")

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._revision: Any = None
        self._resolved = False
        # Threads started in a copy of one scope (sync_to_async, executors) share it.
        self._lock = threading.Lock()

    def resolve(self) -> Any:
        if not self._resolved:
            with self._lock:
                if not self._resolved:
                    self._revision = self._factory()
                    self._resolved = True
        return self._revision


class LazyActor:
    """An actor given as a zero-argument callable, called at each ``Context.get_actor()``.

    ``Context.via_actor(LazyActor(lambda: request.user))`` names whoever the
    callable returns when a change is recorded, so an actor known only later
    (authentication inside a view) is still the one recorded.
    """

    __slots__ = ("_factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory

    def resolve(self) -> Any:
        return self._factory()


_get = storage.get_value


def _require_scope(call: str) -> None:
    if storage.top is None:
        raise NoActiveContext(
            f"Context.{call} needs an active context: call it inside `with Context():` "
            "or a function decorated with `@Context()`."
        )


def _set(key: str, value: Any) -> None:
    _require_scope("disable()/enable()" if key == "disabled" else f"set_{key}()")
    storage.set_value(key, value)


class Context(stackholm.Context):
    """A scope of revy's context stack.

    ``with Context.via_actor(user), Context.via_revision_description("Import"):``
    attributes every tracked change inside the block to ``user`` and groups
    them in one revision described "Import". ``Context()`` opens a scope with
    no values, ``Context.via(**values)`` one with several. A scope works as
    ``with``, ``async with`` and as a decorator of sync and async functions.

    Every key K (``revision``, ``revision_description``, ``actor``,
    ``object_delta_description``, ``attribute_delta_description``,
    ``deletion_description``) has ``get_K()``, ``set_K(v)`` (in the innermost
    scope), ``unset_K()`` (the nearest value goes, revealing the outer one),
    ``reset_K()`` (no value of K stays visible) and ``via_K(v)`` (a new scope
    holding v). Changes are made in the innermost scope and end with it.

    Outside any scope tracking is off. Each thread and asyncio task has its
    own stack: a task starts with the values visible where it was created and
    never changes its parent's.
    """

    _storage = storage

    def __init__(self, **values: Any) -> None:
        super().__init__()
        if not KEYS.issuperset(values):
            unknown = values.keys() - KEYS
            raise TypeError(f"Unknown context keys: {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}.")
        # Only read from here on: one instance can be entered many times at once.
        self._checkpoint_data = values

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self._checkpoint_data.items())
        return f"Context({values})"

    # Entering and leaving. A scope keeps no state of its own: each ``with`` or
    # decorated call pushes a fresh frame, so one instance can be entered
    # re-entrantly, recursively and from many tasks at once.

    def activate(self) -> Context:
        values = self._checkpoint_data
        revision = values.get("revision")
        if callable(revision):
            # One lazy revision per entry: each decorated call resolves its own.
            values = {**values, "revision": LazyRevision(revision)}
        storage.enter(self, values)
        return self

    def deactivate(self) -> None:
        storage.leave(self)

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

    def __call__(self, func: F) -> F:
        """Run every call of ``func`` (sync or async) in a fresh scope."""
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            # A scope must not stay open across yields: the consumer's code runs there.
            raise TypeError(
                f"A Context cannot decorate the generator {func.__qualname__}; use `with` inside it instead."
            )
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

    @property
    def index(self) -> int:
        """The depth of this scope's innermost entry on the current stack."""
        frame = self._innermost_frame()
        if frame is None:
            raise stackholm.ContextIsNotActive(self)
        return frame.depth

    @property
    def is_active(self) -> bool:
        """True while this scope is entered in the current thread or task."""
        return self._innermost_frame() is not None

    def _innermost_frame(self) -> Frame | None:
        frame = storage.top
        while frame is not None and frame.context is not self:
            frame = frame.parent
        return frame

    # stackholm's generic accessors, kept coherent with the stack above.

    @classmethod
    def get_checkpoint_value(cls, key: str, default: Any = None) -> Any:
        return _get(key, default)

    @classmethod
    def set_checkpoint_value(cls, key: str, value: Any) -> None:
        _set(key, value)

    @classmethod
    def pop_checkpoint_value(cls, key: str, default: Any = None) -> Any:
        value = _get(key, default)
        storage.unset_value(key)
        return value

    @classmethod
    def reset_checkpoint_value(cls, key: str) -> None:
        storage.reset_value(key)

    # The general form and revy's own state.

    @classmethod
    def via(cls, **values: Any) -> Context:
        """A new scope holding ``values``; keys as in ``via_*`` plus ``disabled``."""
        return cls(**values)

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
        """True inside a scope whose nearest ``disabled`` flag is unset or False."""
        return not cls.is_disabled()

    @classmethod
    def disable(cls) -> None:
        """Stop tracking in the innermost scope (until ``enable()`` or its end)."""
        _set("disabled", True)

    @classmethod
    def enable(cls) -> None:
        """Resume tracking in the innermost scope (until ``disable()`` or its end)."""
        _set("disabled", False)

    @classmethod
    def as_disabled(cls) -> Context:
        """A new scope in which tracking is off."""
        return cls(disabled=True)

    @classmethod
    def as_enabled(cls) -> Context:
        """A new scope in which tracking is on."""
        return cls(disabled=False)

    if TYPE_CHECKING:  # the accessors generated from VALUE_KEYS below
        get_revision: ClassVar[Callable[[], Any]]
        set_revision: ClassVar[Callable[[Any], None]]
        unset_revision: ClassVar[Callable[[], None]]
        reset_revision: ClassVar[Callable[[], None]]
        via_revision: ClassVar[Callable[[Any], Context]]
        get_actor: ClassVar[Callable[[], Any]]
        set_actor: ClassVar[Callable[[Any], None]]
        unset_actor: ClassVar[Callable[[], None]]
        reset_actor: ClassVar[Callable[[], None]]
        via_actor: ClassVar[Callable[[Any], Context]]
        get_revision_description: ClassVar[Callable[[], str]]
        set_revision_description: ClassVar[Callable[[str | None], None]]
        unset_revision_description: ClassVar[Callable[[], None]]
        reset_revision_description: ClassVar[Callable[[], None]]
        via_revision_description: ClassVar[Callable[[str | None], Context]]
        get_object_delta_description: ClassVar[Callable[[], str]]
        set_object_delta_description: ClassVar[Callable[[str | None], None]]
        unset_object_delta_description: ClassVar[Callable[[], None]]
        reset_object_delta_description: ClassVar[Callable[[], None]]
        via_object_delta_description: ClassVar[Callable[[str | None], Context]]
        get_attribute_delta_description: ClassVar[Callable[[], str]]
        set_attribute_delta_description: ClassVar[Callable[[str | None], None]]
        unset_attribute_delta_description: ClassVar[Callable[[], None]]
        reset_attribute_delta_description: ClassVar[Callable[[], None]]
        via_attribute_delta_description: ClassVar[Callable[[str | None], Context]]
        get_deletion_description: ClassVar[Callable[[], str]]
        set_deletion_description: ClassVar[Callable[[str | None], None]]
        unset_deletion_description: ClassVar[Callable[[], None]]
        reset_deletion_description: ClassVar[Callable[[], None]]
        via_deletion_description: ClassVar[Callable[[str | None], Context]]


def _accessors(key: str, unset: Any) -> dict[str, Callable[..., Any]]:
    """``get_K``, ``set_K``, ``unset_K``, ``reset_K`` and ``via_K`` of the key ``key``."""

    def get(cls: type[Context]) -> Any:
        value = _get(key)
        if isinstance(value, LazyRevision | LazyActor):
            return value.resolve()
        return unset if value is None else value

    def set_(cls: type[Context], value: Any) -> None:
        _set(key, LazyRevision(value) if key == "revision" and callable(value) else value)

    def unset_(cls: type[Context]) -> None:
        _require_scope(f"unset_{key}()")
        storage.unset_value(key)

    def reset(cls: type[Context]) -> None:
        _require_scope(f"reset_{key}()")
        storage.reset_value(key)

    def via(cls: type[Context], value: Any) -> Context:
        return cls(**{key: value})

    get.__doc__ = f"The nearest {key} set ({unset!r} when none is)."
    set_.__doc__ = f"Set {key} in the innermost scope; raises ``revy.NoActiveContext`` outside any."
    unset_.__doc__ = f"Remove the nearest {key}, revealing the outer one; raises outside any scope."
    reset.__doc__ = f"Remove every {key} of the stack; raises outside any scope."
    via.__doc__ = f"A new scope holding {key}."
    return {f"get_{key}": get, f"set_{key}": set_, f"unset_{key}": unset_, f"reset_{key}": reset, f"via_{key}": via}


for _key, _unset in VALUE_KEYS.items():
    for _name, _accessor in _accessors(_key, _unset).items():
        _accessor.__name__ = _accessor.__qualname__ = _name
        setattr(Context, _name, classmethod(_accessor))
