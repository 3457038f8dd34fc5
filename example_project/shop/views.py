"""The page served at /: links to the history of every object, and the latest revisions."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from revy.contrib.django.models import get_revision_model
from shop.models import Customer, Invoice


def home(request: HttpRequest) -> HttpResponse:
    objects = [*Customer.objects.order_by("pk"), *Invoice.objects.order_by("pk")]
    histories = format_html_join(
        "\n",
        '<li><a href="{}">{} {}</a></li>',
        (
            (reverse(f"admin:shop_{obj._meta.model_name}_history", args=[obj.pk]), obj._meta.verbose_name, obj)
            for obj in objects
        ),
    )
    revisions = format_html_join(
        "\n",
        '<li><a href="{}">#{}</a> {} — {}</li>',
        (
            (
                reverse("admin:revy_revision_change", args=[revision.pk]),
                revision.pk,
                revision.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                revision.description,
            )
            for revision in get_revision_model().objects.order_by("-pk")[:20]
        ),
    )
    return HttpResponse(
        format_html(
            "<!doctype html><title>revy example</title><h1>revy example</h1>"
            '<p>Log into the <a href="/admin/">admin</a> as <code>admin</code> / <code>revy-demo</code>.</p>'
            "<h2>History pages</h2><ul>\n{}\n</ul>"
            '<p>Recover deleted <a href="{}">customers</a> or <a href="{}">invoices</a>.</p>'
            "<h2>Recent revisions</h2><ul>\n{}\n</ul>"
            "<p>Recorded by <code>manage.py demo</code>, which starts from an empty database.</p>",
            histories,
            reverse("admin:shop_customer_revy_recover_list"),
            reverse("admin:shop_invoice_revy_recover_list"),
            revisions,
        )
    )
