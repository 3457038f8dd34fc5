"""Querysets whose ``bulk_create()``, ``bulk_update()`` and ``update()`` are recorded.

Django sends no signal for these writes, so revy's queryset sends its own
(``revy.signals``), which revy's receivers (``bulk``) turn into deltas. It
does so only while a context is active and enabled and a receiver listens
for the model (revy connects its own for tracked models); then the write and
its signals run in one transaction. Otherwise each method is Django's own,
query for query.

``RevyTrackedModel``'s default manager is ``RevyManager``. Combine the mixin
with querysets of your own (``class MyQuerySet(RevyQuerySetMixin, QuerySet)``),
and for models whose manager revy does not own (a registered ``auth.User``)
call the functions ``revy.bulk_create()``, ``revy.bulk_update()`` and
``revy.update()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connections, models, router, transaction

from revy import signals
from revy.context import Context
from revy.errors import UnrecordableWrite


def _write_alias(queryset: models.QuerySet) -> str:
    """The database the write goes to, as Django's own write methods pick it."""
    return queryset._db or router.db_for_write(queryset.model, **queryset._hints)  # type: ignore[attr-defined]


def _recording(signal: Any, model: type[models.Model]) -> bool:
    return Context.is_enabled() and signal.has_listeners(model)


def record_bulk_create(
    queryset: models.QuerySet, objs: Iterable[models.Model], create: Callable[..., list[Any]], **options: Any
) -> list[Any]:
    """``create(objs, **options)`` (Django's ``bulk_create``), announced by ``post_bulk_create``."""
    model = queryset.model
    if not _recording(signals.post_bulk_create, model):
        return create(objs, **options)
    if options.get("ignore_conflicts") or options.get("update_conflicts"):
        raise UnrecordableWrite(
            f"bulk_create() of {model._meta.label} with ignore_conflicts or update_conflicts cannot be "
            "recorded: which rows it inserts is not known. Run it in Context.as_disabled() to skip recording."
        )
    objs = list(objs)
    using = _write_alias(queryset)
    if not connections[using].features.can_return_rows_from_bulk_insert and any(obj.pk is None for obj in objs):
        raise UnrecordableWrite(
            f"This database returns no primary keys from bulk_create(), so revy cannot tell which rows of "
            f"{model._meta.label} it records; give the objects their primary keys before the call."
        )
    with transaction.atomic(using=using, savepoint=False):
        created = create(objs, **options)
        signals.post_bulk_create.send(model, objects=created, using=using, queryset=queryset.using(using))
    return created


def record_bulk_update(
    queryset: models.QuerySet,
    objs: Iterable[models.Model],
    fields: Iterable[str],
    update: Callable[..., int],
    **options: Any,
) -> int:
    """``update(objs, fields, **options)`` (Django's ``bulk_update``), between its two signals."""
    model = queryset.model
    if not _recording(signals.post_bulk_update, model):
        return update(objs, fields, **options)
    objs, fields = list(objs), list(fields)
    using = _write_alias(queryset)
    announced = {
        "objects": objs,
        "fields": [model._meta.get_field(name) for name in fields],
        "using": using,
        "queryset": queryset.using(using),
    }
    with transaction.atomic(using=using, savepoint=False):
        signals.pre_bulk_update.send(model, **announced)
        # Django's bulk_update runs an update() of this queryset per batch: recorded here instead.
        with Context.as_disabled():
            rows = update(objs, fields, **options)
        signals.post_bulk_update.send(model, **announced)
    return rows


def record_update(queryset: models.QuerySet, values: dict[str, Any], update: Callable[..., int]) -> int:
    """``update(**values)`` (Django's ``QuerySet.update`` of ``queryset``), between its two signals."""
    model = queryset.model
    if not _recording(signals.post_update, model) or queryset.query.is_sliced:
        return update(**values)  # Django refuses a sliced update itself
    using = _write_alias(queryset)
    announced = {"values": values, "using": using, "queryset": queryset.using(using)}
    with transaction.atomic(using=using, savepoint=False):
        signals.pre_update.send(model, **announced)
        rows = update(**values)
        signals.post_update.send(model, rows=rows, **announced)
    return rows


class RevyQuerySetMixin(models.QuerySet):
    """Records ``bulk_create()``, ``bulk_update()`` and ``update()`` of a tracked model.

    Put it first among the bases of a queryset of your own::

        class BookQuerySet(RevyQuerySetMixin, models.QuerySet):
            def published(self):
                return self.filter(published=True)

        class Book(RevyTrackedModel):
            objects = BookQuerySet.as_manager()
    """

    def bulk_create(  # type: ignore[override]
        self,
        objs: Iterable[Any],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Sequence[str] | None = None,
        unique_fields: Sequence[str] | None = None,
    ) -> list[Any]:
        return record_bulk_create(
            self,
            objs,
            super().bulk_create,
            batch_size=batch_size,
            ignore_conflicts=ignore_conflicts,
            update_conflicts=update_conflicts,
            update_fields=update_fields,
            unique_fields=unique_fields,
        )

    def bulk_update(self, objs: Iterable[Any], fields: Iterable[str], batch_size: int | None = None) -> int:
        return record_bulk_update(self, objs, fields, super().bulk_update, batch_size=batch_size)

    def update(self, **kwargs: Any) -> int:
        return record_update(self, kwargs, super().update)


class RevyQuerySet(RevyQuerySetMixin, models.QuerySet):
    """A ``QuerySet`` whose bulk writes and ``update()`` are recorded."""


class RevyManager(models.Manager.from_queryset(RevyQuerySet)):  # type: ignore[misc]
    """The default manager of ``RevyTrackedModel``: ``Book.objects.bulk_create(...)`` is recorded."""


def _queryset_of(model: type[models.Model], using: str | None) -> models.QuerySet:
    return model._default_manager.db_manager(using).get_queryset()


def bulk_create(objs: Iterable[models.Model], *, using: str | None = None, **options: Any) -> list[Any]:
    """``Model.objects.bulk_create(objs, **options)``, recorded whatever the model's manager.

    For tracked models whose manager is not revy's, such as a registered
    ``auth.User``: ``revy.bulk_create([User(username="ann"), ...])``. Returns
    the objects, as Django's does.
    """
    objs = list(objs)
    if not objs:
        return objs
    queryset = _queryset_of(type(objs[0]), using)
    if isinstance(queryset, RevyQuerySetMixin):
        return queryset.bulk_create(objs, **options)
    return record_bulk_create(queryset, objs, queryset.bulk_create, **options)


def bulk_update(
    objs: Iterable[models.Model], fields: Iterable[str], *, batch_size: int | None = None, using: str | None = None
) -> int:
    """``Model.objects.bulk_update(objs, fields)``, recorded whatever the model's manager; the rows matched."""
    objs = list(objs)
    if not objs:
        return 0
    queryset = _queryset_of(type(objs[0]), using)
    if isinstance(queryset, RevyQuerySetMixin):
        return queryset.bulk_update(objs, fields, batch_size=batch_size)
    return record_bulk_update(queryset, objs, fields, queryset.bulk_update, batch_size=batch_size)


def update(queryset: models.QuerySet, **values: Any) -> int:
    """``queryset.update(**values)``, recorded whatever the queryset's class; the rows matched.

    ``revy.update(User.objects.filter(is_active=False), is_staff=False)``.
    """
    if isinstance(queryset, RevyQuerySetMixin):
        return queryset.update(**values)
    return record_update(queryset, values, queryset.update)
