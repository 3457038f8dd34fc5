"""revy's SET handlers on a tracked model whose target is not tracked."""

import pytest
from django.contrib.auth.models import User

from revy import Context
from revy.contrib.django.models import AttributeDelta, ObjectDelta
from tests.testapp.models import Book, Shelf, ShelfProxy

pytestmark = pytest.mark.django_db


def test_untracked_target_deletion_records_the_update_of_its_tracked_referrers():
    shelf = Shelf.objects.create(name="top")
    book = Book.objects.create(shelf=shelf, title="Dune")
    shelf_pk = shelf.pk
    with Context.via_deletion_description("Shelf removed."):
        shelf.delete()
    book.refresh_from_db()
    assert book.shelf_id is None
    delta = ObjectDelta.objects.get()
    assert (delta.action, delta.content_object, delta.actor, delta.description) == (
        ObjectDelta.ACTION_UPDATE,
        book,
        None,
        "Shelf removed.",
    )
    attribute = AttributeDelta.objects.get()
    assert (attribute.field_name, attribute.old_value, attribute.new_value) == ("shelf", shelf_pk, None)


def test_untracked_target_saves_inside_a_context_record_nothing():
    user = User.objects.create(username="ann")
    with Context.via_actor(user):
        shelf = Shelf.objects.create(name="top")
        shelf.name = "bottom"
        shelf.save()
    assert not ObjectDelta.objects.exists()


def test_untracked_target_deleted_through_a_proxy_records_the_update():
    shelf = Shelf.objects.create(name="top")
    book = Book.objects.create(shelf=shelf, title="Dune")
    with Context():
        ShelfProxy.objects.get(pk=shelf.pk).delete()
    delta = ObjectDelta.objects.get()
    assert (delta.action, delta.content_object) == (ObjectDelta.ACTION_UPDATE, book)
