"""One model shape, declared once per library: an item, and a parent with children.

Every twin has the same columns, so the only difference between two rows of
the results is the library recording the change.
"""

from __future__ import annotations

from decimal import Decimal

import reversion
from auditlog.registry import auditlog
from django.db import models
from simple_history.models import HistoricalRecords

from revy import RevyTrackedModel
from revy.contrib.django.models import CASCADE as REVY_CASCADE


class ItemFields(models.Model):
    name = models.CharField(max_length=100)
    count = models.IntegerField(default=0)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    active = models.BooleanField(default=True)
    note = models.TextField(blank=True, default="")
    stamp = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class ParentFields(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        abstract = True


class ChildFields(models.Model):
    name = models.CharField(max_length=100)
    value = models.IntegerField(default=0)

    class Meta:
        abstract = True


# Plain Django: nothing records.
class PlainItem(ItemFields):
    pass


class PlainParent(ParentFields):
    pass


class PlainChild(ChildFields):
    parent = models.ForeignKey(PlainParent, models.CASCADE, related_name="children")


# revy
class RevyItem(ItemFields, RevyTrackedModel):
    pass


class RevyParent(ParentFields, RevyTrackedModel):
    pass


class RevyChild(ChildFields, RevyTrackedModel):
    parent = models.ForeignKey(RevyParent, REVY_CASCADE, related_name="children")


# django-simple-history
class ShItem(ItemFields):
    history = HistoricalRecords()


class ShParent(ParentFields):
    history = HistoricalRecords()


class ShChild(ChildFields):
    parent = models.ForeignKey(ShParent, models.CASCADE, related_name="children")
    history = HistoricalRecords()


# django-reversion
@reversion.register()
class RvItem(ItemFields):
    pass


@reversion.register()
class RvParent(ParentFields):
    pass


@reversion.register()
class RvChild(ChildFields):
    parent = models.ForeignKey(RvParent, models.CASCADE, related_name="children")


# django-auditlog
class AlItem(ItemFields):
    pass


class AlParent(ParentFields):
    pass


class AlChild(ChildFields):
    parent = models.ForeignKey(AlParent, models.CASCADE, related_name="children")


for model in (AlItem, AlParent, AlChild):
    auditlog.register(model)


# Many-to-many: an object given members in one add(); only the declaring side is tracked.
class TagFields(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        abstract = True


class PlainTag(TagFields):
    pass


class PlainTagged(ParentFields):
    tags = models.ManyToManyField(PlainTag, related_name="tagged")


class RevyTag(TagFields):
    pass


class RevyTagged(ParentFields, RevyTrackedModel):
    tags = models.ManyToManyField(RevyTag, related_name="tagged")


class ShTag(TagFields):
    pass


class ShTagged(ParentFields):
    tags = models.ManyToManyField(ShTag, related_name="tagged")
    history = HistoricalRecords(m2m_fields=[tags])
