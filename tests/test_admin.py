"""revy's admin: edits recorded with their user, history, compare, revert, recover, revisions and undo."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from revy import Context
from revy.contrib.django.models import ObjectDelta, Revision
from tests.testapp.models import Author, Post, Ticket

pytestmark = pytest.mark.django_db


def make_user(username: str, *perms: str, superuser: bool = False) -> User:
    with Context.as_disabled():
        if superuser:
            return User.objects.create_superuser(username, password="pw")
        user = User.objects.create_user(username, password="pw", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def boss() -> User:
    return make_user("boss", superuser=True)


@pytest.fixture
def admin_client(boss: User) -> Client:
    return client_for(boss)


def history_url(obj) -> str:
    return reverse(f"admin:testapp_{obj._meta.model_name}_history", args=[obj.pk])


# Edits recorded


def test_admin_add_is_recorded_with_its_user_and_django_change_message(admin_client: Client, boss: User) -> None:
    response = admin_client.post(reverse("admin:testapp_author_add"), {"name": "ann"})
    assert response.status_code == 302
    delta = Author.objects.get(name="ann").history.get()
    assert delta.action == ObjectDelta.ACTION_CREATE
    assert delta.actor == boss
    assert delta.description == "Added."


def test_admin_change_is_recorded_with_its_user_and_the_changed_fields(admin_client: Client, boss: User) -> None:
    with Context():
        ann = Author.objects.create(name="ann")
    admin_client.post(reverse("admin:testapp_author_change", args=[ann.pk]), {"name": "bea"})
    delta = ann.history.first()
    assert delta.action == ObjectDelta.ACTION_UPDATE
    assert delta.actor == boss
    assert delta.description == "Changed Name."
    assert delta.changes == {"name": ("ann", "bea")}


def test_admin_delete_view_is_recorded_with_its_user(admin_client: Client, boss: User) -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        Post.objects.create(author=ann, title="p")
    admin_client.post(reverse("admin:testapp_author_delete", args=[ann.pk]), {"post": "yes"})
    assert not Author.objects.exists()
    delta = ann.history.first() if ann.pk else ObjectDelta.objects.for_model(Author).deletes().get()
    assert delta.actor == boss
    assert delta.description == "Deleted."
    # The post went with it, through revy's CASCADE, in the same revision.
    assert ObjectDelta.objects.for_model(Post).deletes().get().revision_id == delta.revision_id


def test_admin_bulk_delete_action_is_recorded_with_its_user(admin_client: Client, boss: User) -> None:
    with Context():
        authors = [Author.objects.create(name=name) for name in ("ann", "bob")]
    response = admin_client.post(
        reverse("admin:testapp_author_changelist"),
        {"action": "delete_selected", "_selected_action": [a.pk for a in authors], "post": "yes"},
    )
    assert response.status_code == 302
    deletes = ObjectDelta.objects.for_model(Author).deletes()
    assert deletes.count() == 2
    assert {d.actor for d in deletes} == {boss}
    assert len({d.revision_id for d in deletes}) == 1


# The history page


def test_history_page_shows_fields_verbose_names_choice_labels_foreign_key_targets_and_actors(
    admin_client: Client, boss: User
) -> None:
    with Context.via_actor(boss):
        ann = Author.objects.create(name="ann")
        ticket = Ticket.objects.create(title="Printer", owner=ann)
    with Context.via_actor(boss), Context.via_revision_description("Fixed"):
        ticket.status = "closed"
        with Context.via_actor(None), Context.via_attribute_delta_description("Closed by the robot"):
            ticket.title = "Printer fixed"
        ticket.save()
    response = admin_client.get(history_url(ticket))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Headline" in html  # the field's verbose name
    assert "Closed" in html and "Open" in html  # choice labels, not the stored "closed"
    assert 'class="revy-new">ann</td>' in html  # the owner shown by str()
    assert "Fixed" in html  # the revision's description
    assert "the system: <em>Closed by the robot</em>" in html  # a field set by another actor than its delta's
    versions = response.context["versions"]
    assert [v.actor for v in versions] == [boss, boss]
    assert {f.name: f.actor_differs for f in versions[0].fields} == {"status": False, "title": True}


def test_history_page_of_100_revisions_reads_them_in_a_fixed_number_of_queries(admin_client: Client) -> None:
    editors = [make_user(f"editor{i}") for i in range(3)]
    with Context.via_actor(editors[0]):
        owners = [Author.objects.create(name=f"owner{i}") for i in range(3)]
        ticket = Ticket.objects.create(title="t0")

    def edit(count: int) -> None:
        for i in range(count):
            with Context.via_actor(editors[i % 3]):
                ticket.title = f"t{ticket.history.count()}"
                ticket.owner = owners[i % 3]
                ticket.status = "closed" if i % 2 else "open"
                ticket.save()

    def queries_of_history_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(history_url(ticket))
        assert response.status_code == 200
        return len(queries)

    edit(9)
    few = queries_of_history_page()
    edit(90)
    assert ticket.history.count() == 100
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(history_url(ticket))
    assert len(response.context["versions"]) == 100
    assert len(queries) == few
    # session, user, ticket, count, the page's deltas, their records, their revisions,
    # the users who acted, the owners
    assert len(queries) == 9, [q["sql"] for q in queries.captured_queries]


def test_history_page_names_a_deleted_actor_by_its_label(admin_client: Client) -> None:
    leaver = make_user("leaver")
    with Context.via_actor(leaver):
        ann = Author.objects.create(name="ann")
    with Context.as_disabled():
        leaver.delete()
    html = admin_client.get(history_url(ann)).content.decode()
    assert "leaver (deleted)" in html
    assert "the system" not in html


def test_history_page_paginates(admin_client: Client) -> None:
    with Context():
        ann = Author.objects.create(name="a0")
    for i in range(1, 60):
        with Context():
            ann.name = f"a{i}"
            ann.save()
    response = admin_client.get(history_url(ann), {"p": 2})
    assert len(response.context["versions"]) == 10  # 60 versions, 50 a page
    assert response.context["versions"][-1].delta.action == ObjectDelta.ACTION_CREATE


# Compare and revert


def edited_author() -> tuple[Author, list[ObjectDelta]]:
    with Context():
        ann = Author.objects.create(name="ann")
    with Context():
        ann.name = "bea"
        ann.save()
    return ann, list(ann.history.order_by("pk"))


def test_compare_shows_the_fields_that_differ_between_two_versions(admin_client: Client) -> None:
    ann, (created, renamed) = edited_author()
    url = reverse("admin:testapp_author_revy_compare", args=[ann.pk])
    response = admin_client.get(url, {"a": renamed.pk, "b": created.pk})
    assert response.status_code == 200
    [row] = response.context["rows"]
    assert (row.label, row.old, row.new) == ("Name", "ann", "bea")


def test_revert_asks_first_then_puts_the_old_values_back_as_a_new_revision(admin_client: Client, boss: User) -> None:
    ann, (created, _renamed) = edited_author()
    url = reverse("admin:testapp_author_revy_revert", args=[ann.pk, created.pk])
    confirmation = admin_client.get(url)
    assert confirmation.status_code == 200
    assert b"csrfmiddlewaretoken" in confirmation.content
    ann.refresh_from_db()
    assert ann.name == "bea"  # nothing changes on GET
    response = admin_client.post(url)
    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.name == "ann"
    revert = ann.history.first()
    assert revert.actor == boss
    assert revert.revision.description.startswith("Reverted to the version of")


def test_revert_needs_a_csrf_token() -> None:
    ann, (created, _renamed) = edited_author()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("boss", superuser=True))
    response = client.post(reverse("admin:testapp_author_revy_revert", args=[ann.pk, created.pk]))
    assert response.status_code == 403
    ann.refresh_from_db()
    assert ann.name == "bea"


def test_revert_conflict_is_shown_and_changes_nothing(admin_client: Client) -> None:
    ann, (created, _renamed) = edited_author()
    with Context():
        Author.objects.create(name="ann")  # the old name is taken since
    response = admin_client.post(
        reverse("admin:testapp_author_revy_revert", args=[ann.pk, created.pk]), follow=True
    )
    assert response.status_code == 200
    [message] = [str(m) for m in response.context["messages"]]
    assert "testapp.Author" in message and "Name" in message
    ann.refresh_from_db()
    assert ann.name == "bea"
    assert ann.history.count() == 2


# Recover deleted objects


def test_recover_lists_deleted_objects_and_restores_one(admin_client: Client, boss: User) -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        pk = ann.pk
        ann.delete()
    listing = admin_client.get(reverse("admin:testapp_author_revy_recover_list"))
    assert listing.status_code == 200
    [(version, snapshot)] = listing.context["items"]
    assert snapshot.name == "ann"
    url = reverse("admin:testapp_author_revy_recover", args=[version.delta.pk])
    assert admin_client.get(url).status_code == 200
    assert not Author.objects.exists()
    assert admin_client.post(url).status_code == 302
    assert Author.objects.get(pk=pk).name == "ann"
    assert ObjectDelta.objects.for_model(Author).first().actor == boss
    assert admin_client.get(reverse("admin:testapp_author_revy_recover_list")).context["items"] == []


def test_recover_conflict_on_a_missing_foreign_key_target_is_shown_and_changes_nothing(admin_client: Client) -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        post = Post.objects.create(author=ann, title="p")
        post.delete()
    with Context.as_disabled():
        ann.delete()
    delta = ObjectDelta.objects.for_model(Post).deletes().get()
    response = admin_client.post(reverse("admin:testapp_post_revy_recover", args=[delta.pk]), follow=True)
    [message] = [str(m) for m in response.context["messages"]]
    assert "author" in message and "no longer exists" in message
    assert not Post.objects.exists()


# The revision admin


def test_revision_list_filters_by_actor_model_and_date(admin_client: Client, boss: User) -> None:
    with Context.via_actor(boss):
        Author.objects.create(name="ann")
    with Context():
        Ticket.objects.create(title="t")
    by_boss, by_system = Revision.objects.order_by("pk")
    url = reverse("admin:revy_revision_changelist")
    ct_author = ObjectDelta.objects.for_model(Author).get().content_type_id

    def listed(**params: str) -> list[int]:
        response = admin_client.get(url, params)
        assert response.status_code == 200
        return [r.pk for r in response.context["cl"].result_list]

    assert listed() == [by_system.pk, by_boss.pk]
    ct_user = ContentType.objects.get_for_model(User).pk
    assert listed(actor=f"{ct_user}:{boss.pk}") == [by_boss.pk]
    assert listed(actor="system") == [by_system.pk]
    assert listed(model=str(ct_author)) == [by_boss.pk]
    day = by_boss.created_at
    on_the_day = {f"created_at__{part}": str(getattr(day, part)) for part in ("year", "month", "day")}
    assert set(listed(**on_the_day)) == {by_boss.pk, by_system.pk}
    assert listed(created_at__year=str(day.year - 1)) == []


def test_revision_page_shows_every_delta_and_undo_puts_it_back(admin_client: Client, boss: User) -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        Post.objects.create(author=ann, title="p")
    with Context.via_revision_description("ann leaves"):
        ann.delete()
    deletion = Revision.objects.get(description="ann leaves")
    page = admin_client.get(reverse("admin:revy_revision_change", args=[deletion.pk]))
    assert page.status_code == 200
    assert len(page.context["versions"]) == 2
    assert page.context["can_undo"] is True
    url = reverse("admin:revy_revision_undo", args=[deletion.pk])
    assert admin_client.get(url).status_code == 200
    assert not Author.objects.exists()
    assert admin_client.post(url).status_code == 302
    assert Author.objects.get().name == "ann"
    assert Post.objects.get().title == "p"
    undo = Revision.objects.first()
    assert undo.actors() == [boss]


def test_undo_conflict_is_shown_and_changes_nothing(admin_client: Client) -> None:
    with Context():
        ann = Author.objects.create(name="ann")
    with Context.via_revision_description("ann leaves"):
        ann.delete()
    with Context():
        Author.objects.create(name="ann")
    deletion = Revision.objects.get(description="ann leaves")
    response = admin_client.post(reverse("admin:revy_revision_undo", args=[deletion.pk]), follow=True)
    [message] = [str(m) for m in response.context["messages"]]
    assert "testapp.Author" in message
    assert Author.objects.count() == 1


# Permissions: one refusal for each


@pytest.fixture
def ann_with_history() -> tuple[Author, ObjectDelta]:
    ann, (created, _renamed) = edited_author()
    return ann, created


def test_history_needs_view_or_change_permission(ann_with_history) -> None:
    ann, _ = ann_with_history
    assert client_for(make_user("nobody")).get(history_url(ann)).status_code == 403
    assert client_for(make_user("viewer", "testapp.view_author")).get(history_url(ann)).status_code == 200
    assert client_for(make_user("changer", "testapp.change_author")).get(history_url(ann)).status_code == 200


def test_compare_needs_view_or_change_permission(ann_with_history) -> None:
    ann, created = ann_with_history
    url = reverse("admin:testapp_author_revy_compare", args=[ann.pk])
    params = {"a": created.pk, "b": ann.history.first().pk}
    assert client_for(make_user("nobody")).get(url, params).status_code == 403
    assert client_for(make_user("viewer", "testapp.view_author")).get(url, params).status_code == 200


def test_revert_needs_change_permission(ann_with_history) -> None:
    ann, created = ann_with_history
    url = reverse("admin:testapp_author_revy_revert", args=[ann.pk, created.pk])
    viewer = client_for(make_user("viewer", "testapp.view_author"))
    assert viewer.get(url).status_code == 403
    assert viewer.post(url).status_code == 403
    ann.refresh_from_db()
    assert ann.name == "bea"
    assert client_for(make_user("changer", "testapp.change_author")).get(url).status_code == 200


def test_recover_needs_add_permission() -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        ann.delete()
    delta = ObjectDelta.objects.deletes().get()
    changer = client_for(make_user("changer", "testapp.change_author", "testapp.view_author"))
    assert changer.get(reverse("admin:testapp_author_revy_recover_list")).status_code == 403
    assert changer.post(reverse("admin:testapp_author_revy_recover", args=[delta.pk])).status_code == 403
    assert not Author.objects.exists()
    adder = client_for(make_user("adder", "testapp.add_author", "testapp.view_author"))
    assert adder.get(reverse("admin:testapp_author_revy_recover_list")).status_code == 200
    # The change list links to the page only for those who may use it.
    recover_link = reverse("admin:testapp_author_revy_recover_list").encode()
    assert recover_link in adder.get(reverse("admin:testapp_author_changelist")).content
    assert recover_link not in changer.get(reverse("admin:testapp_author_changelist")).content


def test_revision_page_needs_view_permission_on_revisions(ann_with_history) -> None:
    revision = Revision.objects.first()
    url = reverse("admin:revy_revision_change", args=[revision.pk])
    assert client_for(make_user("nobody", "testapp.change_author")).get(url).status_code == 403
    assert client_for(make_user("auditor", "revy.view_revision")).get(url).status_code == 200


def test_undo_needs_change_permission_on_every_model_it_touched() -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        Post.objects.create(author=ann, title="p")
    with Context.via_revision_description("ann leaves"):
        ann.delete()
    deletion = Revision.objects.get(description="ann leaves")
    url = reverse("admin:revy_revision_undo", args=[deletion.pk])
    half = client_for(make_user("half", "revy.view_revision", "testapp.change_author"))
    assert half.get(url).status_code == 403
    assert half.post(url).status_code == 403
    assert not Author.objects.exists()
    full = client_for(make_user("full", "revy.view_revision", "testapp.change_author", "testapp.change_post"))
    assert full.get(url).status_code == 200
