"""Filters of revy's admin templates: how an actor and an action read on a page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from revy.contrib.django import actions
from revy.contrib.django.admin import actor_display

register = template.Library()


@register.filter
def revy_actor(actor: Any) -> str:
    """The system, a live actor by ``str()``, or a deleted one by its recorded label."""
    return actor_display(actor)


@register.filter
def revy_action(delta: Any) -> str:
    """An object delta's action, in words."""
    return {actions.CREATE: _("Created"), actions.UPDATE: _("Changed"), actions.DELETE: _("Deleted")}.get(
        delta.action, delta.get_action_display()
    )
