from __future__ import annotations

from django.urls import path

from shop import views

urlpatterns = [
    path("", views.recent_revisions, name="recent-revisions"),
]
