"""``RevyMiddleware``: every request in one context, so every change it makes lands in one revision.

Add it after Django's ``AuthenticationMiddleware``::

    MIDDLEWARE = [
        # ...
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "revy.contrib.django.middleware.RevyMiddleware",
    ]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from revy.context import Context, LazyActor
from revy.contrib.django import conf


def request_actor(request: HttpRequest) -> Any:
    """``request.user`` when authenticated, else None (the system)."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class RevyMiddleware:
    """Runs each request, sync or async, in one ``revy.Context``: one revision per request.

    The actor is ``request.user`` when authenticated, else None, read when a
    change is recorded, so authentication done later in the view (such as
    Django REST framework's) is seen. With ``REVY_REQUEST_DESCRIPTION_HEADER``
    set, that header's value describes the revision.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def context_for(self, request: HttpRequest) -> Context:
        """The scope of one request."""
        values: dict[str, Any] = {"actor": LazyActor(lambda: request_actor(request))}
        header = conf.request_description_header()
        if header:
            values["revision_description"] = request.headers.get(header, "")
        return Context(**values)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        with self.context_for(request):
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        async with self.context_for(request):
            return await self.get_response(request)
