"""The shop in Django's admin, with revy's history, compare, revert and recover on every model."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from revy.contrib.django.admin import RevyAdminMixin, RevyModelAdmin
from shop.models import Customer, Invoice


@admin.register(Customer)
class CustomerAdmin(RevyModelAdmin):
    list_display = ("name",)


@admin.register(Invoice)
class InvoiceAdmin(RevyModelAdmin):
    list_display = ("number", "customer", "amount", "local_amount")


# A ModelAdmin you already have gets revy's pages through the mixin.
admin.site.unregister(User)


@admin.register(User)
class RevyUserAdmin(RevyAdminMixin, UserAdmin):
    pass
