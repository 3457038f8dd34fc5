"""Signals revy sends from its deletion handlers (``revy.contrib.django.models``).

Django changes rows from ``on_delete`` handlers without sending ``pre_save``
or ``post_save``, so revy's handlers announce what they did; revy's own
receivers turn these signals into deltas, and you may connect your own.
Both are sent while Django *collects* a deletion, before it knows whether the
deletion will happen, and only inside an active, enabled context.

``objects_cascaded(sender=Model, field, objects, using, origin)``
    ``objects`` (instances of ``sender``) will be deleted because the object
    their ``field`` points at is being deleted.

``field_set_on_delete(sender=Model, field, objects, value, using, origin)``
    ``field`` of ``objects`` will be set to ``value`` (already resolved, for
    ``SET(callable)`` and ``SET_DEFAULT``) because its target is being deleted.
"""

from __future__ import annotations

from django.dispatch import Signal

objects_cascaded = Signal()
field_set_on_delete = Signal()
