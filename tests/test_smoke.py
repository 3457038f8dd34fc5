import pytest
from django.contrib.auth.models import User

from revy import Context
from revy.contrib.django.models import AttributeDelta, ObjectDelta
from tests.testapp.models import Author, Post, Review

pytestmark = pytest.mark.django_db


def test_create_update_delete_are_recorded_in_one_revision_each():
    user = User.objects.create(username="bob")
    with Context.via_actor(user):
        author = Author.objects.create(name="ann")
        author.name = "anne"
        author.save()
    assert [d.action for d in ObjectDelta.objects.order_by("pk")] == [1, 2]
    update = AttributeDelta.objects.get(object_delta__action=2)
    assert (update.field_name, update.old_value, update.new_value, update.actor) == ("name", "ann", "anne", user)


def test_cascade_and_set_null_join_the_deletion_revision():
    author = Author.objects.create(name="ann")
    Post.objects.create(author=author, title="p")
    Review.objects.create(author=author)
    with Context.via_deletion_description("gone"):
        author.delete()
    deltas = ObjectDelta.objects.order_by("pk")
    assert {(d.get_action_display(), d.content_type.model, d.description) for d in deltas} == {
        ("delete", "author", ""),
        ("delete", "post", "gone"),
        ("update", "review", "gone"),
    }
    assert len({d.revision_id for d in deltas}) == 1
