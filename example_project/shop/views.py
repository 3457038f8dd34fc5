"""The page served at /: the latest revisions, as plain HTML."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join

from revy.contrib.django.models import get_revision_model


def recent_revisions(request: HttpRequest) -> HttpResponse:
    revisions = get_revision_model().objects.order_by("-pk")[:20]
    items = format_html_join(
        "\n",
        "<li>#{} {} — {}</li>",
        (
            (revision.pk, revision.created_at.strftime("%Y-%m-%d %H:%M:%S"), revision.description)
            for revision in revisions
        ),
    )
    return HttpResponse(
        format_html(
            "<!doctype html><title>revy example</title><h1>Recent revisions</h1><ul>\n{}\n</ul>"
            "<p>Recorded by <code>manage.py demo</code>, which starts from an empty database.</p>",
            items,
        )
    )
