"""RevyMiddleware: one context and one revision per request, its actor read when a change is recorded."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, override_settings

from revy import Context, LazyActor
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision

WITH_REVY = override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, "revy.contrib.django.middleware.RevyMiddleware"])


def request_revisions() -> list[Revision]:
    return list(Revision.objects.order_by("pk"))


@pytest.fixture
def alice(db) -> User:
    with Context.as_disabled():
        return User.objects.create_user("alice", password="pw")


@WITH_REVY
@pytest.mark.django_db
def test_anonymous_request_records_one_revision_by_the_system() -> None:
    assert Client().get("/create/", {"name": "ann"}).status_code == 200
    [revision] = request_revisions()
    deltas = ObjectDelta.objects.filter(revision=revision)
    assert deltas.count() == 2
    assert revision.actors() == [None]


@WITH_REVY
def test_logged_in_user_is_the_actor_of_every_delta(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    client.get("/create/", {"name": "ann"})
    [revision] = request_revisions()
    assert revision.actors() == [alice]
    assert {d.actor for d in AttributeDelta.objects.all()} == {alice}
    assert {d.actor_label for d in ObjectDelta.objects.all()} == {"alice"}


@WITH_REVY
def test_user_authenticated_inside_the_view_is_the_actor(alice: User) -> None:
    Client().get("/late/", {"name": "ann"}, headers={"X-User": "alice"})
    [revision] = request_revisions()
    assert revision.actors() == [alice]


# async_to_sync runs the ORM calls of the async code on this thread, inside the test's transaction.


@WITH_REVY
def test_async_view_records_one_revision_by_its_user(alice: User) -> None:
    async def request() -> int:
        client = AsyncClient()
        await client.aforce_login(alice)
        return (await client.get("/acreate/", {"name": "ann"})).status_code

    assert async_to_sync(request)() == 200
    [revision] = request_revisions()
    assert [d.action for d in ObjectDelta.objects.filter(revision=revision).order_by("pk")] == [
        ObjectDelta.ACTION_CREATE,
        ObjectDelta.ACTION_UPDATE,
    ]
    assert revision.actors() == [alice]


@WITH_REVY
def test_async_view_that_authenticates_late_records_that_user(alice: User) -> None:
    async def request() -> None:
        await AsyncClient().get("/alate/", {"name": "ann"}, headers={"X-User": "alice"})

    async_to_sync(request)()
    [revision] = request_revisions()
    assert revision.actors() == [alice]
    assert [d.actor_label for d in ObjectDelta.objects.all()] == ["alice", "alice"]


@WITH_REVY
@override_settings(REVY_REQUEST_DESCRIPTION_HEADER="X-Revision-Description")
@pytest.mark.django_db
def test_revision_description_comes_from_the_header() -> None:
    Client().get("/create/", {"name": "ann"}, headers={"X-Revision-Description": "Imported from the CRM"})
    [revision] = request_revisions()
    assert revision.description == "Imported from the CRM"


@WITH_REVY
@pytest.mark.django_db
def test_without_the_header_setting_no_description_is_read() -> None:
    Client().get("/create/", {"name": "ann"}, headers={"X-Revision-Description": "ignored"})
    [revision] = request_revisions()
    assert revision.description == ""


@WITH_REVY
@pytest.mark.django_db(transaction=True)
def test_atomic_requests_roll_back_the_change_with_its_deltas(settings) -> None:
    settings.DATABASES["default"]["ATOMIC_REQUESTS"] = True
    try:
        assert Client().get("/create/", {"name": "ann"}).status_code == 200
        assert Revision.objects.count() == 1
        assert ObjectDelta.objects.count() == 2
        with pytest.raises(RuntimeError):
            Client().get("/fail/", {"name": "bob"})
        assert Revision.objects.count() == 1
        assert ObjectDelta.objects.count() == 2
        # The next request gets a revision of its own.
        Client().get("/create/", {"name": "cat"})
        assert Revision.objects.count() == 2
    finally:
        settings.DATABASES["default"]["ATOMIC_REQUESTS"] = False


@pytest.mark.django_db
def test_without_the_middleware_a_view_records_nothing() -> None:
    Client().get("/create/", {"name": "ann"})
    assert not Revision.objects.exists()


def test_lazy_actor_is_read_at_each_get_actor() -> None:
    current: list[object] = ["first"]
    with Context.via_actor(LazyActor(lambda: current[0])):
        assert Context.get_actor() == "first"
        current[0] = "second"
        assert Context.get_actor() == "second"


def test_one_class_serves_sync_and_async_stacks() -> None:
    from asgiref.sync import iscoroutinefunction
    from django.http import HttpResponse

    from revy.contrib.django.middleware import RevyMiddleware

    async def async_view(request):
        return HttpResponse()

    assert RevyMiddleware.sync_capable and RevyMiddleware.async_capable
    assert iscoroutinefunction(RevyMiddleware(async_view))
    assert not iscoroutinefunction(RevyMiddleware(lambda request: HttpResponse()))
