"""Task- and thread-local context stacks on stackholm's ``Storage``/``State`` interfaces.

stackholm's own ``ContextVarStorage`` keeps one mutable state in its context
variable, so every asyncio task started under a scope shares (and corrupts)
one stack. Here the stack is persistent instead: frames never change once
built, every change makes a new top frame, and the context variable only
ever points at the current top. A task or thread that starts with a copy of
the context variables therefore sees the values visible where it started,
and nothing it enters or sets can reach its parent or its siblings.

Every operation touches the top frame and a small per-key table, so entering,
leaving, reading and setting cost O(1) whatever the depth of the stack.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import stackholm


class ValueNode:
    """One value of one key; ``outer`` is the value it hides."""

    __slots__ = ("context", "depth", "outer", "value")

    def __init__(self, value: Any, context: stackholm.Context, depth: int, outer: ValueNode | None):
        self.value = value
        self.context = context
        self.depth = depth
        self.outer = outer


class Frame:
    """One entered scope. Immutable: changes build a new frame."""

    __slots__ = ("context", "depth", "outermost", "parent", "values")

    def __init__(
        self,
        context: stackholm.Context,
        parent: Frame | None,
        values: dict[str, ValueNode],
        outermost: dict[str, Any],
    ):
        self.context = context
        self.parent = parent
        self.depth = 0 if parent is None else parent.depth + 1
        # Nearest value of every key visible here; copied per frame, which is
        # O(1) because the set of keys is small and fixed.
        self.values = values
        # Shared by every frame under one outermost scope (its lazy revision).
        self.outermost = outermost

    def with_values(self, values: dict[str, ValueNode]) -> Frame:
        frame = Frame.__new__(Frame)
        frame.context, frame.parent, frame.depth = self.context, self.parent, self.depth
        frame.values, frame.outermost = values, self.outermost
        return frame


class FrameState(stackholm.State):
    """A handle on the top frame; copying it is O(1)."""

    __slots__ = ("top",)

    def __init__(self, top: Frame | None = None):
        self.top = top

    def push_context(self, context: stackholm.Context) -> int:
        parent = self.top
        if parent is None:
            self.top = Frame(context, None, {}, {})
        else:
            self.top = Frame(context, parent, dict(parent.values), parent.outermost)
        return self.top.depth

    def pop_context(self, index: int = -1) -> stackholm.Context | None:
        top = self.top
        if top is None:
            return None
        if index not in (-1, top.depth):
            raise IndexError(f"only the innermost scope (index {top.depth}) can be left, not {index}")
        self.top = top.parent
        return top.context

    def get_last_context(self) -> stackholm.Context | None:
        return None if self.top is None else self.top.context

    def add_checkpoint(self, key: str, context_index: int) -> None:
        """Make the innermost context's own value of ``key`` visible."""
        top = self._top_at(context_index)
        self.set_value(key, top.context.checkpoint_data[key])

    def remove_checkpoint(self, key: str, context_index: int) -> None:
        self._top_at(context_index)
        self.unset_value(key)

    def get_nearest_checkpoint(self, key: str) -> stackholm.Context | None:
        node = None if self.top is None else self.top.values.get(key)
        return None if node is None else node.context

    def get_value(self, key: str, default: Any = None) -> Any:
        node = None if self.top is None else self.top.values.get(key)
        return default if node is None else node.value

    def set_value(self, key: str, value: Any) -> None:
        top = self._require_top()
        values = dict(top.values)
        node = values.get(key)
        if node is not None and node.depth == top.depth:
            node = node.outer
        values[key] = ValueNode(value, top.context, top.depth, node)
        self.top = top.with_values(values)

    def unset_value(self, key: str) -> None:
        top = self._require_top()
        node = top.values.get(key)
        if node is None:
            return
        values = dict(top.values)
        if node.outer is None:
            del values[key]
        else:
            values[key] = node.outer
        self.top = top.with_values(values)

    def reset_value(self, key: str) -> None:
        top = self._require_top()
        if key in top.values:
            values = dict(top.values)
            del values[key]
            self.top = top.with_values(values)

    def _require_top(self) -> Frame:
        if self.top is None:
            raise stackholm.NoContextIsActive()
        return self.top

    def _top_at(self, context_index: int) -> Frame:
        top = self._require_top()
        if context_index != top.depth:
            raise IndexError("only the innermost scope can change")
        return top


class TaskLocalStorage(stackholm.Storage):
    """A stackholm storage whose stacks follow Python's context variables.

    Each mutation works on a copy of the state and stores the copy, so the
    state seen by another task or thread is never changed under its feet.
    """

    def __init__(self, name: str = "revy_context"):
        self._var: ContextVar[FrameState] = ContextVar(name, default=FrameState())

    @classmethod
    def get_state_class(cls) -> type[stackholm.State]:
        return FrameState

    def get_state(self) -> FrameState:
        return self._var.get()

    def set_state(self, state: stackholm.State) -> None:
        assert isinstance(state, FrameState)
        self._var.set(state)

    @property
    def top(self) -> Frame | None:
        """The innermost frame of the current task or thread."""
        return self._var.get().top

    def _changed(self) -> FrameState:
        state = FrameState(self._var.get().top)
        self._var.set(state)
        return state

    def push_context(self, context: stackholm.Context) -> int:
        return self._changed().push_context(context)

    def pop_context(self, index: int = -1) -> stackholm.Context | None:
        return self._changed().pop_context(index)

    def add_checkpoint(self, key: str, context_index: int) -> None:
        self._changed().add_checkpoint(key, context_index)

    def remove_checkpoint(self, key: str, context_index: int) -> None:
        self._changed().remove_checkpoint(key, context_index)

    def get_value(self, key: str, default: Any = None) -> Any:
        return self._var.get().get_value(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self._changed().set_value(key, value)

    def unset_value(self, key: str) -> None:
        self._changed().unset_value(key)

    def reset_value(self, key: str) -> None:
        self._changed().reset_value(key)

    def push_with_values(self, context: stackholm.Context, values: dict[str, Any]) -> None:
        """Enter ``context`` with its own ``values`` in one step."""
        state = self._changed()
        state.push_context(context)
        top = state.top
        assert top is not None
        if values:
            table = top.values
            for key, value in values.items():
                table[key] = ValueNode(value, context, top.depth, table.get(key))

    def pop_checked(self, context: stackholm.Context) -> None:
        """Leave the innermost scope, which must be the one ``context`` entered."""
        top = self.top
        if top is None or top.context is not context:
            raise stackholm.ContextIsNotActive(context, "Scopes must be left in the reverse order of entering them.")
        self._var.set(FrameState(top.parent))
