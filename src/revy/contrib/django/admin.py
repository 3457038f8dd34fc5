"""revy in Django's admin: edits recorded with their user, history, compare, revert, recover, and undo.

Register a tracked model with ``RevyModelAdmin`` (or mix ``RevyAdminMixin``
into your own ``ModelAdmin``)::

    from django.contrib import admin
    from revy.contrib.django.admin import RevyModelAdmin

    admin.site.register(Invoice, RevyModelAdmin)

Revisions get an admin of their own (``RevisionAdmin``), registered on
Django's default site when ``django.contrib.admin`` is installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import update_wrapper
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import display_for_field, unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import models, router, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from revy.context import Context
from revy.contrib.django import conf
from revy.contrib.django.actors import DeletedActor, actors_of, load_actors
from revy.contrib.django.content_types import content_type_of, model_of
from revy.contrib.django.history import restore
from revy.contrib.django.models import get_attribute_delta_model, get_object_delta_model, get_revision_model
from revy.contrib.django.records import read_records, revision_descriptions
from revy.contrib.django.specs import spec_for, tracked_models
from revy.errors import RevertConflict

PAGE_VAR = "p"


# Reading history into rows a page can show


@dataclass
class FieldChange:
    """One field of one version: label, old and new values to show, and its actor (differs: not the delta's)."""

    name: str
    label: str
    old: str
    new: str
    actor: Any = None
    actor_differs: bool = False
    description: str = ""


@dataclass
class Version:
    """One object delta (a ``HistoryRecord``) as a page shows it."""

    delta: Any
    model: type[models.Model] | None
    actor: Any
    revision_description: str = ""
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def object_label(self) -> str:
        if self.model is None:
            return f"#{self.delta.content_id}"
        return f"{capfirst(self.model._meta.verbose_name)} #{self.delta.content_id}"


def actor_display(actor: Any) -> str:
    """How a page names an actor: the system, a live actor, or a deleted one by its recorded label."""
    if actor is None:
        return _("the system")
    if isinstance(actor, DeletedActor):
        return _("%(label)s (deleted)") % {"label": actor.label}
    return str(actor)


def model_field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return found if isinstance(found, models.Field) else None


def is_foreign_key(f: models.Field | None) -> bool:
    return f is not None and f.is_relation and bool(f.many_to_one or f.one_to_one)


class ValueDisplay:
    """Values of fields as the admin shows them: choice labels, yes/no, and a foreign key's target by ``str()``.

    ``load()`` fetches the targets of the foreign key values it is given in
    one query per target model.
    """

    def __init__(self, using: str | None, empty: str):
        self.using = using
        self.empty = empty
        self.targets: dict[tuple[type[models.Model], Any], models.Model] = {}

    def load(self, values: Iterable[tuple[models.Field | None, Any]]) -> None:
        wanted: dict[tuple[type[models.Model], str], set[Any]] = {}
        for f, value in values:
            if value is not None and is_foreign_key(f):
                assert f is not None
                target_field = f.target_field  # type: ignore[attr-defined]
                wanted.setdefault((f.related_model, target_field.attname), set()).add(value)  # type: ignore[arg-type]
        for (target_model, attname), ids in wanted.items():
            found = target_model._base_manager.using(self.using).in_bulk(list(ids), field_name=attname)
            self.targets.update({(target_model, key): obj for key, obj in found.items()})

    def show(self, f: models.Field | None, value: Any) -> str:
        if value is None:
            return self.empty
        if f is None:
            return str(value)
        if is_foreign_key(f):
            target = self.targets.get((f.related_model, value))  # type: ignore[arg-type]
            return str(target) if target is not None else _("%(id)s (deleted)") % {"id": value}
        return str(display_for_field(value, f, self.empty))


def read_versions(deltas: QuerySet[Any], empty: str = "-") -> list[Version]:
    """Each object delta of ``deltas`` with its fields ready to show.

    The whole history read is here, in a number of queries that does not
    grow with the rows: the deltas with their fields (``read_records()``, two
    queries for a page), their revisions, one query per actor model and one
    per foreign key target model.
    """
    using = deltas.db
    records = read_records(deltas)
    revisions = revision_descriptions(records, using)
    actors = actors_of(records, using)
    display = ValueDisplay(using, empty)
    typed = [(r, model_of(r.content_type_id, using)) for r in records]
    display.load(
        (model_field(model, name), value)
        for record, model in typed
        for name, change in record.changes.items()
        for value in (change.old, change.new)
    )
    versions = []
    for record, model in typed:
        actor = actors[(record.actor_content_type_id, record.actor_id)]
        version = Version(record, model, actor, revisions.get(record.revision_id, ""))
        for name, change in record.changes.items():
            f = model_field(model, name)
            key = (change.actor_content_type_id, change.actor_id)
            version.fields.append(
                FieldChange(
                    name,
                    capfirst(f.verbose_name) if f is not None else name,  # type: ignore[arg-type]
                    display.show(f, change.old),
                    display.show(f, change.new),
                    actors[key],
                    key != (record.actor_content_type_id, record.actor_id),
                    change.description if change.description != record.description else "",
                )
            )
        versions.append(version)
    return versions


def history_page(obj: models.Model, page_number: Any, per_page: int, empty: str = "-") -> tuple[Page, list[Version]]:
    """One page of ``obj``'s history, newest first, and its versions ready to show."""
    history = getattr(obj, conf.history_attribute())
    page = Paginator(history, per_page).get_page(page_number)
    return page, read_versions(page.object_list, empty)  # type: ignore[arg-type]


def admin_url(model: type[models.Model] | None, view: str, *args: Any, site: str = "admin") -> str:
    """The URL of an admin ``view`` of ``model``, or '' when the model has none there."""
    if model is None:
        return ""
    try:
        return reverse(f"{site}:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    except NoReverseMatch:
        return ""


# The object admin


class RevyAdminMixin(admin.ModelAdmin):
    """A ``ModelAdmin`` mixin for a tracked model: records admin edits, and adds history, compare, revert and recover.

    - Add, change and delete (the bulk delete action included) are recorded
      with the logged-in user as actor and Django's change message as the
      object delta's description, with or without ``RevyMiddleware``.
    - "History" shows every version, per field, with per-field actors.
    - Compare any two versions; revert to one (change permission); recover
      deleted objects (add permission).
    """

    object_history_template = "revy/admin/object_history.html"
    change_list_template = "revy/admin/change_list.html"
    revy_history_per_page = 50

    # Recording

    def revy_context(self, request: HttpRequest, **values: Any) -> Context:
        """The scope of an admin request that writes: its user is the actor."""
        return Context(actor=request.user, **values)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        with self.revy_context(request):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        with self.revy_context(request):
            return super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # Actions (delete_selected) and list_editable saves run in here.
        with self.revy_context(request):
            return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Django builds its change message after the save; the form alone gives the same words for the object.
        message = self.construct_change_message(request, form, [], not change)
        description = LogEntry(change_message=json.dumps(message)).get_change_message()
        with Context.via_object_delta_description(description):
            super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with Context.via_object_delta_description(_("Deleted.")):
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with Context.via_object_delta_description(_("Deleted.")):
            super().delete_queryset(request, queryset)

    # URLs

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return self.admin_site.admin_view(view)(*args, **kwargs)

            return update_wrapper(wrapper, view)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("revy-recover/", wrap(self.recover_list_view), name=f"{name}_revy_recover_list"),
            path("revy-recover/<int:delta_id>/", wrap(self.recover_view), name=f"{name}_revy_recover"),
            path("<path:object_id>/history/compare/", wrap(self.compare_view), name=f"{name}_revy_compare"),
            path("<path:object_id>/history/<int:delta_id>/revert/", wrap(self.revert_view), name=f"{name}_revy_revert"),
            *super().get_urls(),
        ]

    # Pages

    def revy_page_context(self, request: HttpRequest, title: str, **values: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "empty": self.get_empty_value_display(),
            **values,
        }

    def revy_object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("%(name)s %(key)s does not exist.") % {"name": self.opts.verbose_name, "key": object_id})
        return obj

    def revy_delta(self, obj: Any, delta_id: int) -> Any:
        delta = getattr(obj, conf.history_attribute()).filter(pk=delta_id).first()
        if delta is None:
            raise Http404(_("This version of the object does not exist."))
        return delta

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        """Every version of the object, newest first, paginated, per field."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        page, versions = history_page(
            obj, request.GET.get(PAGE_VAR, 1), self.revy_history_per_page, self.get_empty_value_display()
        )
        context = self.revy_page_context(
            request,
            _("Change history: %s") % obj,
            object=obj,
            page=page,
            versions=versions,
            page_range=page.paginator.get_elided_page_range(page.number),
            page_var=PAGE_VAR,
            can_revert=self.has_change_permission(request, obj),
            preserved_filters=self.get_preserved_filters(request),
            **(extra_context or {}),
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)

    def compare_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Two versions of the object side by side (``?a=<delta id>&b=<delta id>``), the fields that differ."""
        obj = self.revy_object(request, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        try:
            ids = [int(request.GET["a"]), int(request.GET["b"])]
        except (KeyError, ValueError):
            messages.error(request, _("Choose two versions to compare."))
            return HttpResponseRedirect(admin_url(self.model, "history", obj.pk, site=self.admin_site.name))
        first, second = (self.revy_delta(obj, delta_id) for delta_id in sorted(ids))
        rows = self.diff_rows(first, second)
        context = self.revy_page_context(
            request, _("Compare versions: %s") % obj, object=obj, first=first, second=second, rows=rows
        )
        return TemplateResponse(request, "revy/admin/compare.html", context)

    def diff_rows(self, first: Any, second: Any) -> list[FieldChange]:
        """The fields that differ between two versions, for display (old: at ``first``, new: at ``second``)."""
        differences = first.diff(second)
        display = ValueDisplay(first._state.db, self.get_empty_value_display())
        fields = {name: model_field(self.model, name) for name in differences}
        display.load((fields[name], value) for name, pair in differences.items() for value in pair)
        return [
            FieldChange(
                name,
                capfirst(f.verbose_name) if f is not None else name,  # type: ignore[arg-type]
                display.show(f, old),
                display.show(f, new),
            )
            for name, (old, new) in differences.items()
            for f in [fields[name]]
        ]

    def revert_view(self, request: HttpRequest, object_id: str, delta_id: int) -> HttpResponse:
        """Put the object back in its state at one version: a confirmation page, then a POST."""
        obj = self.revy_object(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        delta = self.revy_delta(obj, delta_id)
        history = getattr(obj, conf.history_attribute())
        if request.method == "POST":
            try:
                with (
                    self.revy_context(request, revision_description=self.revert_description(delta)),
                    transaction.atomic(using=router.db_for_write(self.model)),
                ):
                    history.revert_to(delta)
            except RevertConflict as error:
                messages.error(request, str(error))
            else:
                done = _("The %(name)s “%(obj)s” was reverted.")
                messages.success(request, done % {"name": self.opts.verbose_name, "obj": obj})
                return HttpResponseRedirect(admin_url(self.model, "change", obj.pk, site=self.admin_site.name))
        rows = self.diff_rows(history.first(), delta)
        context = self.revy_page_context(
            request, _("Revert %s") % obj, object=obj, delta=delta, rows=rows
        )
        return TemplateResponse(request, "revy/admin/revert_confirmation.html", context)

    def revert_description(self, delta: Any) -> str:
        return _("Reverted to the version of %(when)s") % {"when": delta.created_at.isoformat(" ", "seconds")}

    def recover_list_view(self, request: HttpRequest) -> HttpResponse:
        """The deleted objects of the model, each with its last state."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        deleted = list(getattr(self.model, conf.history_attribute()).deleted().order_by("-pk"))
        versions = read_versions(
            get_object_delta_model()._base_manager.filter(pk__in=[d.pk for d in deleted]).order_by("-pk"),
            self.get_empty_value_display(),
        )
        snapshots = {d.pk: d.snapshot for d in deleted}
        items = [(version, snapshots[version.delta.pk]) for version in versions]
        context = self.revy_page_context(request, _("Recover deleted %s") % self.opts.verbose_name_plural, items=items)
        return TemplateResponse(request, "revy/admin/recover_list.html", context)

    def recover_view(self, request: HttpRequest, delta_id: int) -> HttpResponse:
        """Bring one deleted object back: a confirmation page, then a POST."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        delta = getattr(self.model, conf.history_attribute()).deleted().filter(pk=delta_id).first()
        if delta is None:
            raise Http404(_("This deleted object does not exist, or has been recovered already."))
        if request.method == "POST":
            try:
                with (
                    self.revy_context(request, revision_description=_("Recovered in the admin")),
                    transaction.atomic(using=router.db_for_write(self.model)),
                ):
                    restored = restore(delta.snapshot)
            except RevertConflict as error:
                messages.error(request, str(error))
            else:
                done = _("The %(name)s “%(obj)s” was recovered.")
                messages.success(request, done % {"name": self.opts.verbose_name, "obj": restored})
                return HttpResponseRedirect(admin_url(self.model, "change", restored.pk, site=self.admin_site.name))
        version = read_versions(
            get_object_delta_model()._base_manager.filter(pk=delta.pk), self.get_empty_value_display()
        )[0]
        context = self.revy_page_context(
            request, _("Recover %s") % delta.snapshot, delta=delta, snapshot=delta.snapshot, version=version
        )
        return TemplateResponse(request, "revy/admin/recover_confirmation.html", context)


class RevyModelAdmin(RevyAdminMixin, admin.ModelAdmin):
    """A ready ``ModelAdmin`` for a tracked model, with everything ``RevyAdminMixin`` adds."""


# The revision admin


class ActorFilter(admin.SimpleListFilter):
    """Revisions by one actor (the system, a live or a deleted actor)."""

    title = gettext_lazy("actor")
    parameter_name = "actor"
    SYSTEM = "system"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rows = (
            get_attribute_delta_model()
            ._base_manager.order_by()
            .values_list("actor_content_type_id", "actor_id", "actor_label")
            .distinct()
        )
        actors = load_actors(rows)
        return sorted(
            ((self.SYSTEM if key[0] is None else f"{key[0]}:{key[1]}"), actor_display(actor))
            for key, actor in actors.items()
        )

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if value == self.SYSTEM:
            return queryset.filter(attribute_deltas__actor_content_type__isnull=True).distinct()
        type_id, _, actor_id = value.partition(":")
        if not type_id.isdigit():
            raise IncorrectLookupParameters(f"{value!r} names no actor")
        return queryset.filter(
            attribute_deltas__actor_content_type_id=type_id, attribute_deltas__actor_id=actor_id
        ).distinct()


class ModelFilter(admin.SimpleListFilter):
    """Revisions that changed an object of one tracked model."""

    title = gettext_lazy("model")
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return sorted(
            (str(content_type_of(model, None).pk), str(capfirst(model._meta.verbose_name)))
            for model in tracked_models()
        )

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(object_deltas__content_type_id=value).distinct()


class RevisionAdmin(admin.ModelAdmin):
    """Revisions: a list filterable by actor, model and date; a page with every delta; and undo."""

    list_display = ("id", "created_at", "description")
    list_display_links = ("id", "description")
    list_filter = (ActorFilter, ModelFilter, "created_at")
    search_fields = ("description",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a revision is a record; undo writes a new one

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        undo = self.admin_site.admin_view(self.undo_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_undo"
        return [path("<path:object_id>/undo/", undo, name=name), *super().get_urls()]

    def page_context(self, request: HttpRequest, revision: Any, title: str, **values: Any) -> dict[str, Any]:
        versions = read_versions(
            get_object_delta_model()._base_manager.filter(revision=revision).order_by("pk"),
            self.get_empty_value_display(),
        )
        site = self.admin_site.name
        history_urls = [admin_url(v.model, "history", v.delta.content_id, site=site) for v in versions]
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "object": revision,
            "versions": list(zip(versions, history_urls, strict=True)),
            "actors": [actor_display(actor) for actor in revision.actors()],
            **values,
        }

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Every delta of the revision, per field, with who made it."""
        revision = self.get_object(request, unquote(object_id))
        if revision is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not self.has_view_permission(request, revision):
            raise PermissionDenied
        context = self.page_context(
            request, revision, str(revision), can_undo=self.can_undo(request, revision), **(extra_context or {})
        )
        return TemplateResponse(request, "revy/admin/revision_detail.html", context)

    def touched_models(self, revision: Any) -> list[type[models.Model]]:
        type_ids = (
            get_object_delta_model()
            ._base_manager.filter(revision=revision)
            .order_by()
            .values_list("content_type_id", flat=True)
            .distinct()
        )
        found = (model_of(type_id, revision._state.db) for type_id in type_ids)
        return [model for model in found if model is not None]

    def can_undo(self, request: HttpRequest, revision: Any) -> bool:
        """Whether the user may change every model the revision touched."""
        user: Any = request.user
        return all(
            user.has_perm(f"{model._meta.app_label}.{get_permission_codename('change', model._meta)}")
            for model in self.touched_models(revision)
            if spec_for(model) is not None
        )

    def undo_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """Undo the revision: a confirmation page, then a POST; needs change permission on every model it touched."""
        revision = self.get_object(request, unquote(object_id))
        if revision is None:
            raise Http404(_("This revision does not exist."))
        if not self.has_view_permission(request, revision) or not self.can_undo(request, revision):
            raise PermissionDenied
        if request.method == "POST":
            try:
                with Context(actor=request.user):
                    undo = revision.revert()
            except RevertConflict as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("Revision %(id)s was undone.") % {"id": revision.pk})
                target = undo.pk if undo is not None else revision.pk
                return HttpResponseRedirect(admin_url(self.model, "change", target, site=self.admin_site.name))
        context = self.page_context(request, revision, _("Undo %s") % revision)
        return TemplateResponse(request, "revy/admin/undo_confirmation.html", context)


admin.site.register(get_revision_model(), RevisionAdmin)
