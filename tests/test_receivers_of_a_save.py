"""A tracked save whose own receivers write too: each change is recorded once, as itself (contract §3).

On PostgreSQL a save's deltas travel in the save's own statement; what the
save's receivers execute on the same table must never carry them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.signals import ModelSignal, post_save, pre_save

from revy import Context
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.modes import in_either_mode
from tests.testapp.models import Author, Record


@contextmanager
def receiving(signal: ModelSignal, sender: type[Any], receiver: Callable[..., None]) -> Iterator[None]:
    signal.connect(receiver, sender=sender, weak=False, dispatch_uid="test-receiver")
    try:
        yield
    finally:
        signal.disconnect(sender=sender, dispatch_uid="test-receiver")


def recorded() -> list[tuple[int, str, dict[str, tuple[Any, Any]]]]:
    def values(delta: ObjectDelta) -> dict[str, tuple[Any, Any]]:
        return {a.field_name: (a.old_value, a.new_value) for a in delta.attribute_deltas.all()}

    return [
        (delta.action, delta.content_id, values(delta))
        for delta in ObjectDelta.objects.order_by("pk").prefetch_related("attribute_deltas")
    ]


@in_either_mode
def test_a_queryset_update_by_a_pre_save_receiver_is_not_the_saves_write(mode: str) -> None:
    first, second, chosen = (Record.objects.create(title=t, active=True) for t in ("first", "second", "chosen"))
    updated: list[int] = []

    def only_one_active(sender: Any, instance: Record, **kwargs: Any) -> None:
        updated.append(Record.objects.filter(active=True).exclude(pk=instance.pk).update(active=False))

    with receiving(pre_save, Record, only_one_active), Context():
        chosen.title = "the one"
        chosen.save()

    assert updated == [2]
    # The receiver's update() is recorded as its own change (contract §10), before the save's.
    assert recorded() == [
        (ObjectDelta.ACTION_UPDATE, str(first.pk), {"active": (True, False)}),
        (ObjectDelta.ACTION_UPDATE, str(second.pk), {"active": (True, False)}),
        (ObjectDelta.ACTION_UPDATE, str(chosen.pk), {"title": ("chosen", "the one")}),
    ]
    assert Revision.objects.count() == 1
    assert list(Record.objects.filter(active=True)) == [chosen]


@in_either_mode
@pytest.mark.parametrize("action", ["create", "update"])
def test_a_save_by_a_pre_save_receiver_is_recorded_as_its_own(mode: str, action: str) -> None:
    def add_a_follower(sender: Any, instance: Author, **kwargs: Any) -> None:
        if instance.name == "leader":
            Author.objects.create(name="follower")

    author = Author.objects.create(name="before") if action == "update" else Author()
    with receiving(pre_save, Author, add_a_follower), Context():
        author.name = "leader"
        author.save()

    follower = Author.objects.get(name="follower")
    expected_author = (
        (ObjectDelta.ACTION_UPDATE, str(author.pk), {"name": ("before", "leader")})
        if action == "update"
        else (ObjectDelta.ACTION_CREATE, str(author.pk), {"id": (None, author.pk), "name": (None, "leader")})
    )
    assert recorded() == [
        (ObjectDelta.ACTION_CREATE, str(follower.pk), {"id": (None, follower.pk), "name": (None, "follower")}),
        expected_author,
    ]


@pytest.mark.django_db(transaction=True)
def test_a_save_that_fails_after_its_receiver_wrote_rolls_back_with_it() -> None:
    Author.objects.create(name="taken")  # outside any Context: not recorded

    def add_a_note(sender: Any, instance: Author, **kwargs: Any) -> None:
        if instance.name == "taken":
            Author.objects.create(name="note")

    with receiving(pre_save, Author, add_a_note), Context(), pytest.raises(IntegrityError):
        Author.objects.create(name="taken")

    # The receiver's create ran inside the save's transaction, which the failure rolled back.
    assert not Author.objects.filter(name="note").exists()
    assert recorded() == []
    assert not Revision.objects.exists()


@in_either_mode
def test_a_failure_a_receiver_catches_in_its_own_transaction_leaves_the_save_whole(mode: str) -> None:
    Author.objects.create(name="taken")
    record = Record.objects.create(title="t", count=1)

    def try_to_take(sender: Any, instance: Record, **kwargs: Any) -> None:
        try:
            with transaction.atomic():
                Author.objects.create(name="taken")
        except IntegrityError:
            pass

    with receiving(pre_save, Record, try_to_take), Context():
        record.count = F("count") + 1  # computed by the database: the save runs in a transaction of its own
        record.save()

    assert recorded() == [(ObjectDelta.ACTION_UPDATE, str(record.pk), {"count": (1, 2)})]


@pytest.mark.django_db(transaction=True)
def test_history_follows_the_row_when_a_post_save_receiver_fails() -> None:
    record = Record.objects.create(title="a")

    def fail_once(sender: Any, instance: Record, **kwargs: Any) -> None:
        if instance.title == "b":
            raise RuntimeError("receiver failed")

    with receiving(post_save, Record, fail_once), Context():
        record.title = "b"
        with pytest.raises(RuntimeError):
            record.save()
        # Whether the change stayed (PostgreSQL writes it with its deltas in one statement, as an
        # untracked save commits its INSERT) or rolled back (the other databases' transaction),
        # the next save is recorded from what the row holds.
        record.title = "c"
        record.save()

    titles = [a.old_value for a in AttributeDelta.objects.filter(field_name="title").order_by("pk")]
    titles.append(AttributeDelta.objects.filter(field_name="title").order_by("pk").last().new_value)
    assert titles in (["a", "b", "c"], ["a", "c"])
    assert Record.objects.get().title == "c"
