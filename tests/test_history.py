import datetime

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import NotSupportedError, connection, models
from django.test.utils import CaptureQueriesContext, isolate_apps

from revy import Context, RegistrationError, RevyTrackedModel
from revy.contrib.django.models import AttributeDelta, ObjectDelta, ObjectSnapshot, Revision
from tests.testapp.models import Author, AuthorProxy, Organization, Post, Record, Restaurant, Review, Secret

pytestmark = pytest.mark.django_db

TICK = datetime.timedelta(microseconds=1)


def test_model_history_is_every_objects_deltas_newest_first_and_chainable():
    with Context():
        ann = Author.objects.create(name="ann")
        bob = Author.objects.create(name="bob")
        Post.objects.create(author=ann, title="p")
        ann.name = "anne"
        ann.save()
    assert [(d.content_id, d.action) for d in Author.history.all()] == [
        (str(ann.pk), ObjectDelta.ACTION_UPDATE),
        (str(bob.pk), ObjectDelta.ACTION_CREATE),
        (str(ann.pk), ObjectDelta.ACTION_CREATE),
    ]
    assert [d.content_id for d in Author.history.creates().filter(content_id=str(bob.pk))] == [str(bob.pk)]
    assert [d.action for d in ann.history.all()] == [ObjectDelta.ACTION_UPDATE, ObjectDelta.ACTION_CREATE]
    assert [d.snapshot.name for d in ann.history.with_snapshot()] == ["anne", "ann"]


def test_as_of_is_none_before_creation_and_after_deletion():
    with Context():
        author = Author.objects.create(name="ann")
        created = author.history.get().created_at
        author.name = "anne"
        author.save()
        renamed = author.history.first().created_at
        pk = author.pk
        author.delete()
    deleted = ObjectDelta.objects.filter(content_id=str(pk)).deletes().get().created_at
    history = Author(pk=pk).history
    assert history.as_of(created - TICK) is None
    assert history.as_of(created).name == "ann"
    if renamed > created:
        assert history.as_of(renamed - TICK).name == "ann"
    assert history.as_of(renamed).name == "anne"
    assert history.as_of(deleted) is None
    assert history.as_of(deleted + datetime.timedelta(days=1)) is None


def test_model_level_as_of_lists_the_objects_that_existed_then():
    with Context():
        ann = Author.objects.create(name="ann")
        bob = Author.objects.create(name="bob")
    with Context():
        bob.delete()
    after_delete = ObjectDelta.objects.first().created_at
    assert [a.pk for a in Author.history.as_of(after_delete)] == [ann.pk]
    bob_created = ObjectDelta.objects.for_model(Author).creates().first().created_at
    assert [a.name for a in Author.history.as_of(bob_created)] == ["ann", "bob"]


def test_field_history_lists_the_changes_of_one_field_newest_first():
    with Context():
        author = Author.objects.create(name="a")
        for name in ("b", "c"):
            author.name = name
            author.save()
        Author.objects.create(name="other")
    assert [(d.old_value, d.new_value) for d in author.history.field_history("name")] == [
        ("b", "c"),
        ("a", "b"),
        (None, "a"),
    ]
    assert Author.history.field_history("name").count() == 4
    updates = author.history.filter(action=ObjectDelta.ACTION_UPDATE)
    assert [d.new_value for d in updates.field_history("name")] == ["c", "b"]


def test_deleted_lists_objects_gone_now_with_a_restorable_snapshot():
    with Context():
        gone = Author.objects.create(name="gone")
        back = Author.objects.create(name="back")
        Author.objects.create(name="kept")
        gone_pk, back_pk = gone.pk, back.pk
        gone.delete()
        back.delete()
    with Context():
        ObjectDelta.objects.for_model(Author).filter(content_id=str(back_pk)).deletes().annotate(
            snapshot=ObjectSnapshot(Author)
        ).get().snapshot.save()
    (delta,) = Author.history.deleted()
    assert delta.content_id == str(gone_pk)
    with Context():
        delta.snapshot.save()
    assert set(Author.objects.values_list("name", flat=True)) == {"gone", "back", "kept"}
    assert not Author.history.deleted().exists()


def test_deleted_gives_each_objects_last_delete_when_among_the_deltas_asked_for():
    with Context():
        twice = Author.objects.create(name="first life")
        once = Author.objects.create(name="once")
        twice_pk, once_pk = twice.pk, once.pk
    with Context.via_revision_description("first"):
        twice.delete()
        once.delete()
    between = ObjectDelta.objects.order_by("-pk").first().created_at
    with Context():
        Author.history.deleted().get(content_id=str(twice_pk)).snapshot.save()
        again = Author.objects.get(pk=twice_pk)
        again.name = "second life"
        again.save()
        again.delete()

    def names(deltas) -> dict[str, str]:
        return {d.content_id: d.snapshot.name for d in deltas}

    assert names(Author.history.deleted()) == {str(twice_pk): "second life", str(once_pk): "once"}
    second_delete = ObjectDelta.objects.for_object(Author(pk=twice_pk)).deletes().order_by("-pk").first()
    assert Author.history.deleted().get(content_id=str(twice_pk)).pk == second_delete.pk
    # Filtered: only the objects whose last DELETE is among the deltas selected, with their last state.
    first = Revision.objects.get(description="first")
    assert names(Author.history.filter(revision=first).deleted()) == {str(once_pk): "once"}
    assert names(Author.history.filter(created_at__lte=between).deleted()) == {str(once_pk): "once"}
    assert names(Author.history.exclude(revision=first).deleted()) == {str(twice_pk): "second life"}
    with Context():
        Author.history.deleted().get(content_id=str(once_pk)).snapshot.save()
    assert names(Author.history.filter(revision=first).deleted()) == {}  # once is back


def test_deleted_reads_the_rows_of_inherited_and_proxy_models():
    with Context():
        kept, gone = Restaurant.objects.create(name="kept"), Restaurant.objects.create(name="gone", serves_pizza=True)
        gone.delete()
        proxied = AuthorProxy.objects.create(name="proxied")
        AuthorProxy.objects.create(name="stays")
        proxied.delete()
    # A child's pk is its parent link: compared in Python (three queries); a proxy's is its model's, in SQL.
    assert [(d.snapshot.name, d.snapshot.serves_pizza) for d in Restaurant.history.deleted()] == [("gone", True)]
    assert kept.pk not in {int(d.content_id) for d in Restaurant.history.deleted()}
    assert [d.snapshot.name for d in AuthorProxy.history.deleted()] == ["proxied"]
    assert [d.snapshot.name for d in AuthorProxy.history.filter(action=ObjectDelta.ACTION_DELETE).deleted()] == [
        "proxied"
    ]


def test_revert_to_updates_only_the_fields_that_differ_and_is_recorded():
    with Context():
        secret = Secret.objects.create(code="s", value="one", hashed="h1")
        secret.value = "two"
        secret.save()
        Secret.objects.filter(pk="s").update(hashed="h2")
    first = secret.history.last()
    with Context():
        restored = secret.history.revert_to(first)
    assert (restored.value, Secret.objects.get().value, Secret.objects.get().hashed) == ("one", "one", "h2")
    newest = secret.history.first()
    assert newest.action == ObjectDelta.ACTION_UPDATE
    assert [(a.field_name, a.old_value, a.new_value) for a in newest.attribute_deltas.all()] == [
        ("value", "two", "one")
    ]


def test_revert_to_a_delete_brings_the_object_back():
    with Context():
        author = Author.objects.create(name="ann")
        pk = author.pk
        author.delete()
    delete = Author.history.deletes().get()
    with Context():
        Author.history.revert_to(delete)
    assert Author.objects.get(pk=pk).name == "ann"
    assert Author.history.first().action == ObjectDelta.ACTION_CREATE


def test_history_attribute_refuses_to_hide_an_existing_attribute():
    with pytest.raises(RegistrationError, match="history"), isolate_apps("tests.testapp"):

        class Clashing(RevyTrackedModel):
            history = models.TextField()

            class Meta:
                app_label = "testapp"


def test_delta_querysets_filter_by_object_model_actor_and_action():
    user = User.objects.create(username="u")
    org = Organization.objects.create(name="o")
    with Context.via_actor(user):
        author = Author.objects.create(name="ann")
    with Context.via_actor(org):
        author.name = "anne"
        author.save()
        post = Post.objects.create(author=author, title="p")
    with Context():
        Author.objects.get().delete()
    assert ObjectDelta.objects.for_object(author).count() == 3
    assert ObjectDelta.objects.for_model(Post).creates().get().content_id == str(post.pk)
    assert [d.action for d in ObjectDelta.objects.by_actor(org)] == [1, 2]
    assert ObjectDelta.objects.by_actor(user).get().action == ObjectDelta.ACTION_CREATE
    assert ObjectDelta.objects.by_actor(None).deletes().count() == 2
    assert ObjectDelta.objects.creates().count() == 2 and ObjectDelta.objects.updates().count() == 1
    assert AttributeDelta.objects.for_object(author).for_field("name").sets().count() == 2
    assert AttributeDelta.objects.for_model(Post).unsets().count() == 3
    assert AttributeDelta.objects.by_actor(org).for_field("name").get().new_value == "anne"
    assert Revision.objects.for_object(author).count() == 3
    assert Revision.objects.for_model(Post).count() == 2
    assert Revision.objects.by_actor(user).count() == 1


def test_delta_filters_compose_as_filter_does():
    with Context():
        ann = Author.objects.create(name="ann")
        bob = Author.objects.create(name="bob")
        ann.name = "anne"
        ann.save()
    anns = ObjectDelta.objects.for_object(ann)
    # In a subquery, after a join, negated, and refused on a slice, as filter()'s conditions are.
    assert AttributeDelta.objects.filter(object_delta__in=anns.updates()).get().new_value == "anne"
    assert Revision.objects.filter(object_deltas__in=anns.creates()).count() == 1
    assert AttributeDelta.objects.filter(object_delta__in=anns).for_field("name").count() == 2
    assert [d.content_id for d in ObjectDelta.objects.for_model(Author).exclude(pk__in=anns)] == [str(bob.pk)]
    assert list(ObjectDelta.objects.for_model(Author).creates().values_list("content_id", flat=True)) == [
        str(bob.pk),
        str(ann.pk),
    ]
    assert anns.filter(content_id=str(bob.pk)).count() == 0
    with pytest.raises(TypeError, match="slice"):
        anns[:1].creates()
    with pytest.raises(NotSupportedError, match="filter"):
        anns.order_by().union(ObjectDelta.objects.order_by()).creates()


def test_revision_actors_take_a_query_per_actor_model_whatever_the_deltas():
    user = User.objects.create(username="u")
    org = Organization.objects.create(name="o")

    def revision_with(authors):
        with Context():
            Author.objects.create(name=f"system-{authors}")
            for i in range(authors):
                with Context.via_actor(user if i % 2 else org):
                    Author.objects.create(name=f"{authors}-{i}")
        return Revision.objects.first()

    ContentType.objects.get_for_model(User)
    ContentType.objects.get_for_model(Organization)
    counts = []
    for authors in (2, 40):
        revision = revision_with(authors)
        with CaptureQueriesContext(connection) as queries:
            actors = revision.actors()
        counts.append(len(queries))
        assert len(actors) == 3 and set(actors) == {None, user, org}
    assert counts == [3, 3]


def test_baseline_records_rows_that_have_no_delta_yet():
    Author.objects.create(name="old")
    Record.objects.create(title="old record", blob=b"\x01")
    with Context():
        tracked = Author.objects.create(name="tracked")
    call_command("revy_baseline", "testapp.Author", chunk_size=1)
    assert not Record.history.exists()
    call_command("revy_baseline")
    old = Author.objects.get(name="old")
    assert [s.name for s in old.history.with_snapshot().values_list("snapshot", flat=True)] == ["old"]
    assert tracked.history.count() == 1
    (record,) = Record.history.with_snapshot()
    assert (record.snapshot.title, bytes(record.snapshot.blob)) == ("old record", b"\x01")
    assert list(Revision.objects.values_list("description", flat=True)) == ["revy baseline"] * 2 + [""]
    # A later change of a baselined object snapshots to a complete object.
    with Context():
        old.name = "older"
        old.save()
    assert old.history.with_snapshot().first().snapshot.name == "older"
    revisions = Revision.objects.count()
    call_command("revy_baseline")
    assert Revision.objects.count() == revisions


def test_reviews_keep_history_of_their_foreign_keys():
    with Context():
        author = Author.objects.create(name="ann")
        review = Review.objects.create(author=author)
        author.delete()
    set_null = review.history.first()
    assert set_null.action == ObjectDelta.ACTION_UPDATE
    assert review.history.as_of(set_null.created_at).author_id is None


def test_baseline_refuses_unknown_or_untracked_models():
    with pytest.raises(CommandError, match=r"app_label\.Model"):
        call_command("revy_baseline", "testapp.Nothing")
    with pytest.raises(CommandError, match="not tracked"):
        call_command("revy_baseline", "testapp.Category")


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_history_and_actors_read_the_database_the_object_was_saved_to():
    with Context():
        actor = Author.objects.using("other").create(name="actor")
    with Context.via_actor(actor):
        author = Author.objects.using("other").create(name="written there")
    assert author.history.count() == 1
    assert Author.objects.using("other").get(pk=author.pk).history.count() == 1
    revision = Revision.objects.using("other").order_by("-pk").first()
    assert revision.actors() == [actor]


def test_a_proxy_reads_its_history_as_instances_of_the_proxy():
    with Context():
        author = Author.objects.create(name="ann")
    proxied = AuthorProxy.objects.get(pk=author.pk)
    moment = author.history.first().created_at
    assert type(author.history.as_of(moment)) is Author
    assert type(proxied.history.as_of(moment)) is AuthorProxy  # not the instance class compiled first
    assert type(proxied.history.with_snapshot()[:1][0].snapshot) is AuthorProxy
    assert type(author.history.with_snapshot()[:1][0].snapshot) is Author
