"""The context API (contract §2): scopes, keys, decorators, and isolation per thread and task.

Plain Python: no database is touched.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stackholm
from asgiref.sync import async_to_sync, sync_to_async

import revy
from revy import Context, NoActiveContext
from revy.context import storage

# key -> (value to set, value read when unset)
KEYS: dict[str, tuple[Any, Any]] = {
    "revision": (object(), None),
    "revision_description": ("described", ""),
    "actor": (object(), None),
    "object_delta_description": ("object", ""),
    "attribute_delta_description": ("attribute", ""),
    "deletion_description": ("deleted", ""),
}
TASKS = 200
THREADS = 50


@pytest.fixture(autouse=True)
def _no_scope_leaks() -> Iterator[None]:
    assert storage.top is None, "a previous test left a scope open"
    yield
    assert storage.top is None, "this test left a scope open"


def accessors(key: str) -> tuple[Callable[..., Any], ...]:
    return tuple(getattr(Context, f"{verb}_{key}") for verb in ("get", "set", "unset", "reset", "via"))


# Scopes and keys.


@pytest.mark.parametrize("key", KEYS)
def test_every_key_reads_empty_outside_any_scope(key: str) -> None:
    get, *_ = accessors(key)
    assert get() == KEYS[key][1]


@pytest.mark.parametrize("key", KEYS)
def test_every_key_via_holds_the_value_for_the_block_only(key: str) -> None:
    get, _, _, _, via = accessors(key)
    value, empty = KEYS[key]
    with via(value):
        assert get() is value
        with Context():
            assert get() is value
    assert get() == empty


@pytest.mark.parametrize("key", KEYS)
def test_every_key_set_lasts_until_its_scope_ends(key: str) -> None:
    get, set_, _, _, via = accessors(key)
    value, empty = KEYS[key]
    with via("outer"):
        with Context():
            set_(value)
            assert get() is value
        assert get() == "outer"
    with Context():
        set_(value)
    assert get() == empty


@pytest.mark.parametrize("key", KEYS)
def test_every_key_unset_reveals_the_outer_value(key: str) -> None:
    get, set_, unset, _, via = accessors(key)
    empty = KEYS[key][1]
    with via("outer"), via("inner"):
        set_("replaces inner")
        unset()
        assert get() == "outer"
        unset()
        assert get() == empty
        unset()
        assert get() == empty
    with via("outer"):
        with Context():
            unset()
            assert get() == empty
        # What a scope changes ends with it, an unset included.
        assert get() == "outer"


@pytest.mark.parametrize("key", KEYS)
def test_every_key_reset_hides_every_value(key: str) -> None:
    get, set_, _, reset, via = accessors(key)
    empty = KEYS[key][1]
    with via("outer"), via("middle"), Context():
        set_("inner")
        reset()
        assert get() == empty
        with Context():
            assert get() == empty
    with via("outer"):
        with via("inner"):
            reset()
        assert get() == "outer"


@pytest.mark.parametrize("key", KEYS)
def test_every_key_set_unset_or_reset_outside_a_scope_raises_the_exported_error(key: str) -> None:
    _, set_, unset, reset, _ = accessors(key)
    with pytest.raises(revy.NoActiveContext, match=f"Context.set_{key}"):
        set_("value")
    with pytest.raises(revy.NoActiveContext, match=f"Context.unset_{key}"):
        unset()
    with pytest.raises(revy.NoActiveContext, match=f"Context.reset_{key}"):
        reset()


def test_no_active_context_is_a_revy_error() -> None:
    assert issubclass(NoActiveContext, revy.RevyError)
    with pytest.raises(revy.RevyError):
        Context.disable()
    with pytest.raises(NoActiveContext, match="enable"):
        Context.enable()


def test_nested_scopes_restore_values_when_a_block_raises() -> None:
    with Context.via_actor("outer"):
        with pytest.raises(ValueError), Context.via_actor("inner"):
            Context.set_revision_description("inner")
            raise ValueError
        assert Context.get_actor() == "outer"
        assert Context.get_revision_description() == ""
    assert Context.get_actor() is None


def test_via_sets_several_keys_in_one_scope() -> None:
    revision = object()
    with Context.via(actor="ann", revision=revision, deletion_description="gone", disabled=True):
        assert (Context.get_actor(), Context.get_revision()) == ("ann", revision)
        assert Context.get_deletion_description() == "gone"
        assert Context.is_disabled()


def test_unknown_keys_are_rejected_naming_them() -> None:
    with pytest.raises(TypeError, match=r"Unknown context keys: colour.*known: actor"):
        Context.via(colour="red")
    with pytest.raises(TypeError, match="colour"):
        Context(actor=None, colour="red")


def test_one_scope_can_be_entered_inside_itself() -> None:
    scope = Context.via_actor("a")
    with scope:
        with scope:
            Context.set_actor("b")
            assert scope.is_active
        assert Context.get_actor() == "a"
        assert scope.is_active
    assert not scope.is_active


def test_scopes_left_out_of_order_are_refused() -> None:
    outer, inner = Context(), Context()
    outer.activate()
    inner.activate()
    with pytest.raises(stackholm.ContextIsNotActive):
        outer.deactivate()
    inner.deactivate()
    outer.deactivate()


def test_async_with_works_like_with() -> None:
    async def main() -> None:
        async with Context.via_actor("a"):
            await asyncio.sleep(0)
            assert Context.get_actor() == "a"
        assert Context.get_actor() is None

    asyncio.run(main())


def test_outermost_data_is_shared_under_one_outermost_scope_only() -> None:
    assert Context.outermost_data() is None
    with Context():
        shared = Context.outermost_data()
        with Context.via_actor("a"):
            Context.set_actor("b")
            assert Context.outermost_data() is shared
    with Context():
        assert Context.outermost_data() is not shared


def test_stackholm_accessors_follow_the_same_stack() -> None:
    assert isinstance(storage, stackholm.Storage)
    with Context.via_actor("outer"), Context() as inner:
        assert Context.get_current() is inner
        Context.set_checkpoint_value("actor", "inner")
        assert Context.get_nearest_checkpoint("actor") is inner
        assert Context.get_actor() == "inner"
        assert Context.pop_checkpoint_value("actor") == "inner"
        assert Context.get_checkpoint_value("actor") == "outer"
        Context.reset_checkpoint_value("actor")
        assert Context.get_actor() is None
        assert inner.index == 1


# Decorators.


def test_decorated_function_runs_each_call_in_a_fresh_scope() -> None:
    @Context.via_actor("decorated")
    def set_and_read(description: str) -> tuple[Any, str]:
        seen = Context.get_revision_description()
        Context.set_revision_description(description)
        return Context.get_actor(), seen

    assert set_and_read("first") == ("decorated", "")
    assert set_and_read("second") == ("decorated", "")
    assert set_and_read.__name__ == "set_and_read"
    assert Context.get_actor() is None


def test_decorated_recursive_function_gets_a_scope_per_call() -> None:
    @Context()
    def descend(depth: int) -> list[str]:
        path = [Context.get_revision_description()]
        Context.set_revision_description(f"level {depth}")
        if depth:
            path += descend(depth - 1)
        # The inner call's value vanished when it returned.
        path.append(Context.get_revision_description())
        return path

    with Context.via_revision_description("top"):
        assert descend(2) == ["top", "level 2", "level 1", "level 0", "level 1", "level 2"]
        assert Context.get_revision_description() == "top"


def test_decorated_coroutine_gets_a_scope_per_call() -> None:
    @Context()
    async def descend(depth: int) -> list[Any]:
        path = [Context.get_actor()]
        Context.set_actor(depth)
        if depth:
            path += await descend(depth - 1)
        await asyncio.sleep(0)
        path.append(Context.get_actor())
        return path

    async def main() -> list[list[Any]]:
        with Context.via_actor("top"):
            results = await asyncio.gather(descend(2), descend(1))
            assert Context.get_actor() == "top"
            return results

    assert inspect.iscoroutinefunction(descend)
    assert asyncio.run(main()) == [["top", 2, 1, 0, 1, 2], ["top", 1, 0, 1]]


def test_generators_cannot_be_decorated() -> None:
    def numbers() -> Iterator[int]:
        yield 1

    async def async_numbers() -> Any:
        yield 1

    with pytest.raises(TypeError, match=r"generator .*numbers"):
        Context()(numbers)
    with pytest.raises(TypeError, match="generator"):
        Context.via_actor("a")(async_numbers)


# Enabled / disabled.


def test_tracking_is_off_outside_any_scope_and_on_inside() -> None:
    assert Context.is_disabled() and not Context.is_enabled()
    with Context():
        assert Context.is_enabled() and not Context.is_disabled()


def test_disable_and_enable_last_until_the_scope_ends() -> None:
    with Context():
        with Context():
            Context.disable()
            assert Context.is_disabled()
            with Context():
                assert Context.is_disabled()
                Context.enable()
                assert Context.is_enabled()
            assert Context.is_disabled()
        assert Context.is_enabled()


def test_as_disabled_and_as_enabled_open_scopes() -> None:
    with Context.as_disabled():
        assert Context.is_disabled()
        with Context.as_enabled():
            assert Context.is_enabled()
        assert Context.is_disabled()

    @Context.as_disabled()
    def disabled() -> bool:
        return Context.is_disabled()

    with Context():
        assert disabled()
        assert Context.is_enabled()


# Lazy revision.


class RevisionFactory:
    """Counts its calls; each call makes a new revision."""

    def __init__(self, delay: float = 0) -> None:
        self.calls = 0
        self.delay = delay

    def __call__(self) -> object:
        self.calls += 1
        time.sleep(self.delay)
        return object()


def test_lazy_revision_is_resolved_once_when_first_read() -> None:
    factory = RevisionFactory()
    with Context.via_revision(factory):
        assert factory.calls == 0
        revision = Context.get_revision()
        with Context.via_actor("a"):
            assert Context.get_revision() is revision
        assert Context.get_revision() is revision
    assert factory.calls == 1


def test_lazy_revision_given_to_set_revision() -> None:
    factory = RevisionFactory()
    with Context():
        Context.set_revision(factory)
        assert factory.calls == 0
        assert Context.get_revision() is Context.get_revision()
    assert factory.calls == 1


def test_lazy_revision_of_a_decorator_is_resolved_per_call() -> None:
    factory = RevisionFactory()

    @Context.via_revision(factory)
    def current_revision() -> Any:
        return Context.get_revision(), Context.get_revision()

    first, second = current_revision(), current_revision()
    assert first[0] is first[1] and second[0] is second[1]
    assert first[0] is not second[0]
    assert factory.calls == 2


def test_lazy_revision_is_resolved_once_by_threads_sharing_a_scope() -> None:
    factory = RevisionFactory(delay=0.05)
    barrier = threading.Barrier(8)
    seen: list[Any] = []

    def read() -> None:
        barrier.wait()
        seen.append(Context.get_revision())

    with Context.via_revision(factory):
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(read,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert factory.calls == 1
    assert len(seen) == 8 and all(revision is seen[0] for revision in seen)


# Isolation between asyncio tasks.


async def own_actor_via_scope(actor: int) -> list[Any]:
    """Reads the actor of a scope it enters, yielding to the others between reads."""
    inherited = Context.get_actor()
    async with Context.via_actor(actor):
        reads = []
        for _ in range(3):
            await asyncio.sleep(0)
            reads.append(Context.get_actor())
    await asyncio.sleep(0)
    return [inherited, *reads, Context.get_actor()]


async def own_actor_via_set(actor: int) -> list[Any]:
    """Sets its actor in the scope it inherited, yielding to the others between reads."""
    inherited = Context.get_actor()
    Context.set_actor(actor)
    reads = []
    for _ in range(3):
        await asyncio.sleep(0)
        reads.append(Context.get_actor())
    return [inherited, *reads]


def expected_via_scope(actor: int) -> list[Any]:
    return ["parent", actor, actor, actor, "parent"]


def expected_via_set(actor: int) -> list[Any]:
    return ["parent", actor, actor, actor]


@pytest.mark.parametrize(
    ("task", "expected"),
    [(own_actor_via_scope, expected_via_scope), (own_actor_via_set, expected_via_set)],
)
def test_tasks_under_gather_each_see_only_their_own_actor(
    task: Callable[[int], Any], expected: Callable[[int], list[Any]]
) -> None:
    async def main() -> list[list[Any]]:
        async with Context.via_actor("parent"):
            results = await asyncio.gather(*(task(i) for i in range(TASKS)))
            assert Context.get_actor() == "parent"
        return results

    assert asyncio.run(main()) == [expected(i) for i in range(TASKS)]


@pytest.mark.parametrize(
    ("task", "expected"),
    [(own_actor_via_scope, expected_via_scope), (own_actor_via_set, expected_via_set)],
)
def test_tasks_under_task_group_each_see_only_their_own_actor(
    task: Callable[[int], Any], expected: Callable[[int], list[Any]]
) -> None:
    async def main() -> list[list[Any]]:
        async with Context.via_actor("parent"):
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(task(i)) for i in range(TASKS)]
            assert Context.get_actor() == "parent"
        return [t.result() for t in tasks]

    assert asyncio.run(main()) == [expected(i) for i in range(TASKS)]


def test_a_task_started_outside_any_scope_cannot_open_one_for_its_parent() -> None:
    async def opens_and_sets() -> None:
        Context().activate()
        Context.set_actor("child")

    async def main() -> None:
        await asyncio.create_task(opens_and_sets())
        assert storage.top is None

    asyncio.run(main())


# Isolation between threads.


def run_threads(target: Callable[[int], list[Any]]) -> list[list[Any]]:
    """Runs ``target(i)`` in THREADS threads, each in a copy of the caller's context."""
    results: list[list[Any]] = [[] for _ in range(THREADS)]

    def record(i: int) -> None:
        results[i] = target(i)

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(record, i)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_threads_each_see_only_their_own_actor() -> None:
    barrier = threading.Barrier(THREADS)

    def via_scope(actor: int) -> list[Any]:
        inherited = Context.get_actor()
        with Context.via_actor(actor):
            barrier.wait()
            first = Context.get_actor()
            barrier.wait()
            second = Context.get_actor()
        barrier.wait()
        return [inherited, first, second, Context.get_actor()]

    def via_set(actor: int) -> list[Any]:
        inherited = Context.get_actor()
        barrier.wait()
        Context.set_actor(actor)
        barrier.wait()
        return [inherited, Context.get_actor()]

    with Context.via_actor("parent"):
        assert run_threads(via_scope) == [["parent", i, i, "parent"] for i in range(THREADS)]
        assert run_threads(via_set) == [["parent", i] for i in range(THREADS)]
        assert Context.get_actor() == "parent"


# asgiref: sync_to_async and async_to_sync act like a direct call.


@pytest.mark.parametrize("thread_sensitive", [True, False])
def test_sync_to_async_callee_shares_the_callers_scope(thread_sensitive: bool) -> None:
    def callee() -> Any:
        seen = Context.get_actor()
        Context.set_actor("callee")
        return seen

    async def main() -> None:
        async with Context.via_actor("caller"):
            assert await sync_to_async(callee, thread_sensitive=thread_sensitive)() == "caller"
            assert Context.get_actor() == "callee"
        assert Context.get_actor() is None

    asyncio.run(main())


def test_async_to_sync_callee_shares_the_callers_scope() -> None:
    async def callee() -> Any:
        seen = Context.get_actor()
        await asyncio.sleep(0)
        Context.set_actor("callee")
        return seen

    with Context.via_actor("caller"):
        assert async_to_sync(callee)() == "caller"
        assert Context.get_actor() == "callee"
    assert Context.get_actor() is None


def test_scopes_entered_and_left_by_an_asgiref_callee_leave_the_caller_as_it_was() -> None:
    async def callee() -> Any:
        async with Context.via_actor("callee"):
            return Context.get_actor()

    with Context.via_actor("caller"):
        assert async_to_sync(callee)() == "callee"
        assert Context.get_actor() == "caller"
