"""URLs of the test suite: the admin, and views that write under RevyMiddleware."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.testapp.models import Author


def create_author(request: HttpRequest) -> HttpResponse:
    Author.objects.create(name=request.GET["name"])
    Author.objects.create(name=request.GET["name"] + " again")
    return HttpResponse("ok")


def authenticate_late(request: HttpRequest) -> HttpResponse:
    """Authenticates inside the view, as token authentication of an API framework does."""
    request.user = get_user_model().objects.get(username=request.headers["X-User"])
    return create_author(request)


async def acreate_author(request: HttpRequest) -> HttpResponse:
    await Author.objects.acreate(name=request.GET["name"])
    author = await Author.objects.aget(name=request.GET["name"])
    author.name += " again"
    await author.asave()
    return HttpResponse("ok")


async def aauthenticate_late(request: HttpRequest) -> HttpResponse:
    request.user = await get_user_model().objects.aget(username=request.headers["X-User"])
    return await acreate_author(request)


def fail_after_writing(request: HttpRequest) -> HttpResponse:
    Author.objects.create(name=request.GET["name"])
    raise RuntimeError("the view fails after a write")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("create/", create_author),
    path("late/", authenticate_late),
    path("acreate/", acreate_author),
    path("alate/", aauthenticate_late),
    path("fail/", fail_after_writing),
]
