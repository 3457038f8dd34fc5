"""A customer and its invoices, both tracked by revy."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import models

import revy
from revy import RevyTrackedModel
from revy.contrib.django.models import CASCADE

# A model we do not own is tracked by registering it; the password hash stays out of the history,
# and so does the time of the last login (every admin login would be a revision).
revy.register(User, exclude=["password", "last_login"])


class Customer(RevyTrackedModel):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Invoice(RevyTrackedModel):
    # revy's CASCADE: invoices deleted with their customer are recorded too.
    customer = models.ForeignKey(Customer, CASCADE, related_name="invoices")
    number = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    exchange_rate = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("1"))
    local_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    def __str__(self) -> str:
        return self.number

    def expected_local_amount(self) -> Decimal:
        return (self.amount * self.exchange_rate).quantize(Decimal("0.01"))
