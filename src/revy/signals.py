"""Signals revy sends from its deletion handlers (``revy.contrib.django.models``).

Django changes rows from ``on_delete`` handlers without sending ``pre_save``
or ``post_save``, so revy's handlers announce what they will do; revy's own
receivers turn these signals into deltas, and you may connect your own::

    from revy import signals

    @receiver(signals.objects_cascaded)
    def note_cascade(sender, field, objects, **kwargs):
        print(f"{len(objects)} {sender.__name__} go with their {field.name}")

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
"""

from __future__ import annotations

from django.dispatch import Signal

objects_cascaded = Signal()
field_set_on_delete = Signal()
