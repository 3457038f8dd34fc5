"""Signals revy sends where Django sends none: deletion handlers and bulk writes.

Django changes rows from ``on_delete`` handlers, ``bulk_create()``,
``bulk_update()`` and ``QuerySet.update()`` without sending ``pre_save`` or
``post_save``, so revy's handlers and querysets announce what they do; revy's
own receivers turn these signals into deltas, and you may connect your own::

    from revy import signals

    @receiver(signals.objects_cascaded)
    def note_cascade(sender, field, objects, **kwargs):
        print(f"{len(objects)} {sender.__name__} go with their {field.name}")

Deletion handlers (``revy.contrib.django.models``)
--------------------------------------------------

Both are sent while Django *collects* a deletion: before it knows whether the
deletion will happen (a ``PROTECT`` or ``RESTRICT`` found later stops it) and
outside its transaction, so write nothing from a receiver. They are sent only
inside an active, enabled context, and only for tracked models (``sender``),
once per chunk of at most ``REVY_DELETION_CHUNK_SIZE`` objects.

``objects_cascaded(sender, field, objects, using, origin, collector)``
    ``objects`` (a list of instances of ``sender``) will be deleted because the
    object their foreign key ``field`` points at is being deleted.

``field_set_on_delete(sender, field, objects, value, using, origin, collector)``
    ``field`` of ``objects`` will be set to ``value`` (already resolved for
    ``SET(callable)`` and ``SET_DEFAULT``) because its target is being deleted.

``using`` is the database alias, ``origin`` the model instance or queryset
whose ``delete()`` started it all, ``collector`` Django's ``Collector``.

Bulk writes (``revy.contrib.django.querysets``)
-----------------------------------------------

Sent by revy's querysets (``RevyQuerySet``, ``RevyQuerySetMixin``) and by
``revy.bulk_create()``, ``revy.bulk_update()`` and ``revy.update()``, inside
an active, enabled context and only when a receiver listens for ``sender``
(revy connects its own per tracked model). Each call runs in one transaction
(``atomic(savepoint=False)``, so no SAVEPOINT inside yours), and its signals
inside it, so what a receiver writes commits or rolls back with the write.
``queryset`` is a queryset of ``sender`` on ``using`` made for that one call:
a receiver of a ``pre_`` signal may keep on it what the ``post_`` one needs.

``post_bulk_create(sender, objects, using, queryset)``
    ``objects`` (a list) were inserted by ``bulk_create()``, their primary keys set.

``pre_bulk_update(sender, objects, fields, using, queryset)``
``post_bulk_update(sender, objects, fields, using, queryset)``
    Before and after ``bulk_update()`` writes ``fields`` (a list of model fields)
    of ``objects`` (a list of instances).

``pre_update(sender, values, using, queryset)``
``post_update(sender, values, using, queryset, rows)``
    Before and after ``queryset.update(**values)`` (``values`` as given, with
    their expressions); ``queryset`` selects the rows to update, ``rows`` is
    what ``update()`` returned.
"""

from __future__ import annotations

from django.dispatch import Signal

objects_cascaded = Signal()
field_set_on_delete = Signal()

post_bulk_create = Signal()
pre_bulk_update = Signal()
post_bulk_update = Signal()
pre_update = Signal()
post_update = Signal()
