"""Task- and thread-local context stacks on stackholm's ``Storage``/``State`` interfaces.

stackholm's own ``ContextVarStorage`` keeps one mutable state in its context
variable, so every asyncio task started under a scope shares (and corrupts)
one stack. Here the stack is persistent instead: frames never change once
built, every change makes a new top frame, and the context variable only
ever holds the current top frame. A task or thread that starts with a copy
of the context variables therefore sees the values visible where it started,
and nothing it enters or sets can reach its parent or its siblings.

Every operation touches the top frame and its table of the nearest value of
each key, a table whose size is bounded by the fixed set of keys, so
entering, leaving, reading and setting cost O(1) whatever the stack depth.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import stackholm


class ValueNode:
    """One value of one key; ``outer`` is the value of that key it hides."""

    __slots__ = ("context", "depth", "outer", "value")

    def __init__(self, value: Any, context: stackholm.Context, depth: int, outer: ValueNode | None) -> None:
        self.value = value
        self.context = context
        self.depth = depth
        self.outer = outer


class Frame:
    """One entered scope. Immutable: every change builds a new frame."""

    __slots__ = ("context", "depth", "outermost", "parent", "values")

    def __init__(
        self,
        context: stackholm.Context,
        parent: Frame | None,
        depth: int,
        values: dict[str, ValueNode],
        outermost: dict[str, Any],
    ) -> None:
        self.context = context
        self.parent = parent
        self.depth = depth
        # The nearest value of every key visible here.
        self.values = values
        # Shared by every frame under one outermost scope (its lazy revision).
        self.outermost = outermost

    @classmethod
    def entered(cls, context: stackholm.Context, parent: Frame | None, own: Mapping[str, Any]) -> Frame:
        """The frame of ``context`` entered on top of ``parent`` with its ``own`` values."""
        if parent is None:
            depth, values, outermost = 0, {}, {}
        else:
            depth, values, outermost = parent.depth + 1, dict(parent.values), parent.outermost
        for key, value in own.items():
            values[key] = ValueNode(value, context, depth, values.get(key))
        return cls(context, parent, depth, values, outermost)

    def _with_values(self, values: dict[str, ValueNode]) -> Frame:
        return Frame(self.context, self.parent, self.depth, values, self.outermost)

    def with_value(self, key: str, value: Any) -> Frame:
        """This frame with its own value of ``key`` set (replacing its previous own one)."""
        values = dict(self.values)
        hidden = values.get(key)
        if hidden is not None and hidden.depth == self.depth:
            hidden = hidden.outer
        values[key] = ValueNode(value, self.context, self.depth, hidden)
        return self._with_values(values)

    def without_nearest(self, key: str) -> Frame:
        """This frame with the nearest value of ``key`` removed, revealing the one it hid."""
        node = self.values.get(key)
        if node is None:
            return self
        values = dict(self.values)
        if node.outer is None:
            del values[key]
        else:
            values[key] = node.outer
        return self._with_values(values)

    def without_any(self, key: str) -> Frame:
        """This frame with no value of ``key`` visible."""
        if key not in self.values:
            return self
        values = dict(self.values)
        del values[key]
        return self._with_values(values)


NOT_USED = "revy's Context changes its stack through TaskLocalStorage.enter(), leave() and set_value()"


class FrameState(stackholm.State):
    """stackholm's ``State`` over a top frame; each change replaces ``top``."""

    __slots__ = ("top",)

    def __init__(self, top: Frame | None = None) -> None:
        self.top = top

    # revy's Context enters, leaves and sets through TaskLocalStorage's own operations below, each
    # one step on the top frame; stackholm's step-by-step protocol for the same is not used.

    def push_context(self, context: stackholm.Context) -> int:
        raise NotImplementedError(NOT_USED)

    def pop_context(self, index: int = -1) -> stackholm.Context | None:
        raise NotImplementedError(NOT_USED)

    def get_last_context(self) -> stackholm.Context | None:
        return None if self.top is None else self.top.context

    def add_checkpoint(self, key: str, context_index: int) -> None:
        raise NotImplementedError(NOT_USED)

    def remove_checkpoint(self, key: str, context_index: int) -> None:
        raise NotImplementedError(NOT_USED)

    def get_nearest_checkpoint(self, key: str) -> stackholm.Context | None:
        node = None if self.top is None else self.top.values.get(key)
        return None if node is None else node.context


class TaskLocalStorage(stackholm.Storage):
    """A stackholm storage whose stacks follow Python's context variables.

    The variable holds the (immutable) top frame, so a copy of the context
    variables, as every asyncio task and asgiref call takes, is a copy of
    the whole stack.
    """

    def __init__(self, name: str = "revy_context") -> None:
        self._var: ContextVar[Frame | None] = ContextVar(name, default=None)

    @classmethod
    def get_state_class(cls) -> type[stackholm.State]:
        return FrameState

    def get_state(self) -> FrameState:
        """The state stackholm's generic readers (``get_current``, ``get_nearest_checkpoint``) read."""
        return FrameState(self._var.get())

    def set_state(self, state: stackholm.State) -> None:
        raise NotImplementedError(NOT_USED)

    @property
    def top(self) -> Frame | None:
        """The innermost frame of the current task or thread."""
        return self._var.get()

    # The operations revy's Context uses, each one step on the top frame.

    def enter(self, context: stackholm.Context, own: Mapping[str, Any]) -> None:
        """Enter ``context`` with its ``own`` values."""
        self._var.set(Frame.entered(context, self._var.get(), own))

    def leave(self, context: stackholm.Context) -> None:
        """Leave the innermost scope, which must be the one ``context`` entered."""
        top = self._var.get()
        if top is None or top.context is not context:
            raise stackholm.ContextIsNotActive(context, "Scopes must be left in the reverse order of entering them.")
        self._var.set(top.parent)

    def get_value(self, key: str, default: Any = None) -> Any:
        top = self._var.get()
        node = None if top is None else top.values.get(key)
        return default if node is None else node.value

    def set_value(self, key: str, value: Any) -> None:
        """Set ``key`` in the innermost scope; the caller checks one is active."""
        self._var.set(self._require_top().with_value(key, value))

    def unset_value(self, key: str) -> None:
        top = self._var.get()
        if top is not None:
            self._var.set(top.without_nearest(key))

    def reset_value(self, key: str) -> None:
        top = self._var.get()
        if top is not None:
            self._var.set(top.without_any(key))

    def _require_top(self) -> Frame:
        top = self._var.get()
        if top is None:
            raise stackholm.NoContextIsActive()
        return top
