"""revy's deletion handlers (contract §4): what cascades and SET* record, and Django's behaviour without a context."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.db.models.deletion import Collector
from django.test.utils import CaptureQueriesContext, override_settings

from revy import Context, signals
from revy.contrib.django import deletion
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.testapp.models import Author, Blocker, Comment, Guard, Post, Review, fallback_author

pytestmark = pytest.mark.django_db

CLOSED = "The account has been closed at the owner's request."
CASCADED = "Deleted because the owner's account has been closed."
DELETE, UPDATE = ObjectDelta.ACTION_DELETE, ObjectDelta.ACTION_UPDATE
SET, UNSET = AttributeDelta.ACTION_SET, AttributeDelta.ACTION_UNSET


def delta_of(obj: models.Model, pk: Any = None) -> ObjectDelta:
    """The one ObjectDelta recorded for ``obj`` (whose pk may be gone after its delete)."""
    content_type = ContentType.objects.get_for_model(type(obj))
    return ObjectDelta.objects.get(content_type=content_type, content_id=str(pk if pk is not None else obj.pk))


def attributes_of(delta: ObjectDelta) -> dict[str, tuple[int, Any, Any, str, Any]]:
    return {
        a.field_name: (a.action, a.old_value, a.new_value, a.description, a.actor)
        for a in AttributeDelta.objects.filter(object_delta=delta)
    }


def closing_context(actor: Any) -> Context:
    return Context.via(actor=actor, object_delta_description=CLOSED, deletion_description=CASCADED)


def test_seed_example_records_the_closing_and_every_cascaded_object_in_one_revision():
    owner = User.objects.create(username="owner")
    author = Author.objects.create(name="ann")
    posts = [Post.objects.create(author=author, title=f"post {i}") for i in range(2)]
    comments = [Comment.objects.create(post=post, text=f"on {post.title}") for post in posts for _ in range(2)]
    author_pk = author.pk

    with closing_context(owner):
        author.delete()

    assert not Post.objects.exists() and not Comment.objects.exists()
    closed = delta_of(author, author_pk)
    assert (closed.action, closed.description, closed.actor) == (DELETE, CLOSED, owner)
    assert {name: values[:3] for name, values in attributes_of(closed).items()} == {
        "id": (UNSET, author_pk, None),
        "name": (UNSET, "ann", None),
    }
    for post in posts:
        delta = delta_of(post)
        assert (delta.action, delta.description, delta.actor) == (DELETE, CASCADED, None)
        assert attributes_of(delta) == {
            "id": (UNSET, post.pk, None, CASCADED, None),
            "author": (UNSET, author_pk, None, CASCADED, None),
            "title": (UNSET, post.title, None, CASCADED, None),
        }
    for comment in comments:
        delta = delta_of(comment)
        assert (delta.action, delta.description, delta.actor) == (DELETE, CASCADED, None)
        assert attributes_of(delta) == {
            "id": (UNSET, comment.pk, None, CASCADED, None),
            "post": (UNSET, comment.post_id, None, CASCADED, None),
            "text": (UNSET, comment.text, None, CASCADED, None),
        }
    assert ObjectDelta.objects.count() == 1 + 2 + 4
    assert Revision.objects.count() == 1
    assert set(ObjectDelta.objects.values_list("revision", flat=True)) == {Revision.objects.get().pk}


def test_set_null_set_callable_and_set_default_record_one_update_per_changed_object():
    fallback = Author.objects.create(name="fallback")
    other = Author.objects.create(name="other")
    author = Author.objects.create(name="ann")
    post = Post.objects.create(author=author, title="cascaded beside the updates")
    every_key = Review.objects.create(author=author, editor=author, moderator=author)
    written = Review.objects.create(author=author, editor=other)
    edited = Review.objects.create(editor=author)
    moderated = Review.objects.create(moderator=author, author=other)
    untouched = Review.objects.create(author=other, editor=other, moderator=other)
    old = author.pk

    with Context.via(actor=other, deletion_description="gone"):
        author.delete()

    def update(review: Review) -> dict[str, tuple[int, Any, Any, str, Any]]:
        delta = delta_of(review)
        assert (delta.action, delta.description, delta.actor) == (UPDATE, "gone", None)
        return attributes_of(delta)

    assert update(every_key) == {
        "author": (SET, old, None, "gone", None),
        "editor": (SET, old, fallback.pk, "gone", None),
        "moderator": (SET, old, None, "gone", None),
    }
    assert update(written) == {"author": (SET, old, None, "gone", None)}
    assert update(edited) == {"editor": (SET, old, fallback.pk, "gone", None)}
    assert update(moderated) == {"moderator": (SET, old, None, "gone", None)}
    assert not ObjectDelta.objects.filter(content_id=str(untouched.pk), action=UPDATE).exists()
    assert delta_of(post).action == DELETE
    assert ObjectDelta.objects.count() == 1 + 1 + 4
    # Recorded in the order Django acts: keys are set before rows are deleted.
    updates = ObjectDelta.objects.filter(action=UPDATE).values_list("pk", flat=True)
    assert max(updates) < min(ObjectDelta.objects.filter(action=DELETE).values_list("pk", flat=True))
    assert Revision.objects.count() == 1
    assert list(Review.objects.order_by("pk").values_list("author", "editor", "moderator")) == [
        (None, fallback.pk, None),
        (None, other.pk, None),
        (None, fallback.pk, None),
        (other.pk, None, None),
        (other.pk, other.pk, other.pk),
    ]


def test_set_with_a_value_records_that_value():
    fallback = Author.objects.create(name="fallback")
    author = Author.objects.create(name="ann")
    review = Review.objects.create(moderator=author)
    old = author.pk
    with declared_with({(Review, "moderator"): deletion.SET(fallback.pk)}), Context.via_deletion_description("gone"):
        author.delete()
    review.refresh_from_db()
    assert review.moderator == fallback
    assert attributes_of(delta_of(review)) == {"moderator": (SET, old, fallback.pk, "gone", None)}


def family(name: str) -> Author:
    """An author with two posts, three comments and a review."""
    author = Author.objects.create(name=name)
    for i in range(2):
        post = Post.objects.create(author=author, title=f"{name} {i}")
        Comment.objects.bulk_create([Comment(post=post, text="c") for _ in range(i + 1)])
    Review.objects.create(author=author)
    return author


def rows() -> dict[str, list[tuple[Any, ...]]]:
    return {
        model.__name__: list(model.objects.order_by("pk").values_list())
        for model in (Author, Post, Comment, Review, Guard, Blocker)
    }


@pytest.mark.parametrize("error", [ProtectedError, RestrictedError])
def test_protect_or_restrict_beside_revy_handlers_deletes_and_records_nothing(error):
    author = family("ann")
    if error is ProtectedError:
        Guard.objects.create(author=author)
    else:
        Blocker.objects.create(author=author, post=Post.objects.create(author=family("bob"), title="not cascaded"))
    before = rows()

    with Context.via_deletion_description("gone"), pytest.raises(error):
        author.delete()

    assert rows() == before
    assert not ObjectDelta.objects.exists() and not Revision.objects.exists()


def test_restricted_object_cascaded_through_another_path_lets_the_delete_happen():
    author = family("ann")
    Blocker.objects.create(author=author, post=author.posts.first())

    with Context.via_deletion_description("gone"):
        author.delete()

    assert not Blocker.objects.exists() and not Post.objects.exists()
    assert sorted(ObjectDelta.objects.values_list("action", "description")) == [
        (UPDATE, "gone"),
        (DELETE, ""),
        *[(DELETE, "gone")] * 5,
    ]


@pytest.mark.parametrize("review_stays", [True, False], ids=["review-stays", "review-gone"])
def test_plan_of_a_protected_deletion_does_not_leak_into_the_next_delete_of_that_object(review_stays):
    author = Author.objects.create(name="ann")
    author_pk = author.pk
    review = Review.objects.create(author=author)
    guard = Guard.objects.create(author=author)
    with Context.via_deletion_description("gone"):
        with pytest.raises(ProtectedError):
            author.delete()
        guard.delete()
        if not review_stays:
            review.delete()
        author.delete()

    updates = ObjectDelta.objects.filter(action=UPDATE)
    if review_stays:
        assert attributes_of(updates.get()) == {"author": (SET, author_pk, None, "gone", None)}
    else:
        assert not updates.exists()
    assert delta_of(author, author_pk).action == DELETE


def test_a_collection_that_only_looks_records_nothing():
    # The admin's delete confirmation page collects with a list as origin and never deletes.
    author = family("ann")
    with Context.via_deletion_description("gone"):
        Collector(using="default", origin=[author]).collect([author])
    assert Review.objects.filter(author=author).exists()
    assert not ObjectDelta.objects.exists()


def test_queryset_delete_of_several_authors_records_each_in_one_revision():
    owner = User.objects.create(username="owner")
    authors = [family("ann"), family("bob")]
    kept = family("cid")
    queryset = Author.objects.exclude(pk=kept.pk)

    with closing_context(owner), CaptureQueriesContext(connection) as queries:
        count, _ = queryset.delete()

    assert count == 2 * (1 + 2 + 3)  # authors, posts, comments
    for author in authors:
        closed = delta_of(author)
        assert (closed.description, closed.actor) == (CLOSED, owner)
    cascaded = ObjectDelta.objects.filter(action=DELETE).exclude(content_type=ContentType.objects.get_for_model(Author))
    assert cascaded.count() == 2 * (2 + 3)
    assert set(cascaded.values_list("description", "actor_id")) == {(CASCADED, None)}
    assert ObjectDelta.objects.filter(action=UPDATE).count() == 2
    assert Revision.objects.count() == 1
    # The deletion's origin is the queryset: recording must not evaluate it again.
    selects = [q["sql"].replace('"', "`") for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert sum("FROM `testapp_author`" in sql for sql in selects) == 1


def test_cascade_rolled_back_leaves_no_delta_and_a_retry_records_once():
    author = family("ann")
    with Context.via_deletion_description("gone"):
        with transaction.atomic():
            Author.objects.get(pk=author.pk).delete()
            assert ObjectDelta.objects.count() == 1 + 5 + 1
            transaction.set_rollback(True)
        assert not ObjectDelta.objects.exists() and not Revision.objects.exists()
        assert Comment.objects.count() == 3

        Author.objects.get(pk=author.pk).delete()

    assert sorted(ObjectDelta.objects.values_list("action", "description")) == [
        (UPDATE, "gone"),
        (DELETE, ""),
        *[(DELETE, "gone")] * 5,
    ]
    assert Revision.objects.count() == 1


def test_signals_announce_cascades_and_field_updates_with_their_arguments():
    author = family("ann")
    author_pk = author.pk
    heard: list[tuple[str, dict[str, Any]]] = []

    def listen(name: str) -> Callable[..., None]:
        return lambda signal, **kwargs: heard.append((name, kwargs))

    on_cascade, on_set = listen("cascaded"), listen("set")
    signals.objects_cascaded.connect(on_cascade)
    signals.field_set_on_delete.connect(on_set)
    try:
        with Context.as_disabled():
            Author.objects.get(pk=family("bob").pk).delete()
        assert heard == []
        with Context():
            author.delete()
    finally:
        signals.objects_cascaded.disconnect(on_cascade)
        signals.field_set_on_delete.disconnect(on_set)

    by_model = {(name, kwargs["sender"]): kwargs for name, kwargs in heard}
    assert set(by_model) == {("cascaded", Post), ("cascaded", Comment), ("set", Review)}
    posts = by_model["cascaded", Post]
    assert posts["field"] is Post._meta.get_field("author")
    assert sorted(p.title for p in posts["objects"]) == ["ann 0", "ann 1"]
    assert posts["using"] == "default" and posts["origin"] is author
    reviews = by_model["set", Review]
    assert reviews["field"] is Review._meta.get_field("author")
    assert [r.author_id for r in reviews["objects"]] == [author_pk]
    assert reviews["value"] is None
    assert reviews["collector"] is posts["collector"]


def delta_inserts(queries: CaptureQueriesContext) -> int:
    """How many INSERTs ``queries`` made into revy's tables."""
    tables = {model._meta.db_table for model in (Revision, ObjectDelta, AttributeDelta)}
    return sum(
        q["sql"].startswith("INSERT INTO") and q["sql"].split()[2].strip('`"') in tables
        for q in queries.captured_queries
    )


def test_large_cascade_writes_its_deltas_in_a_few_statements_per_chunk():
    children = 10_000
    author = Author.objects.create(name="prolific")
    Post.objects.bulk_create([Post(author=author, title=f"post {i}") for i in range(children)])
    inserts_by_chunk_size = {}
    for chunk_size in (500, 1000):
        with override_settings(REVY_DELETION_CHUNK_SIZE=chunk_size), transaction.atomic():
            with Context.via_deletion_description("gone"), CaptureQueriesContext(connection) as queries:
                Author.objects.get(pk=author.pk).delete()
            inserts_by_chunk_size[chunk_size] = delta_inserts(queries)
            assert ObjectDelta.objects.count() == children + 1
            assert AttributeDelta.objects.count() == 3 * children + 2
            transaction.set_rollback(True)
    print(f"INSERTs into delta tables for {children} cascaded children, by chunk size: {inserts_by_chunk_size}")
    for chunk_size, inserts in inserts_by_chunk_size.items():
        # Per chunk: one INSERT of object deltas and one or two of attributes; plus the revision.
        assert inserts <= 4 * math.ceil(children / chunk_size) + 3, inserts_by_chunk_size
    assert inserts_by_chunk_size[500] > inserts_by_chunk_size[1000]


def test_large_set_null_writes_its_updates_in_bulk():
    author = Author.objects.create(name="reviewed")
    Review.objects.bulk_create([Review(author=author) for _ in range(10_000)])
    with Context.via_deletion_description("gone"), CaptureQueriesContext(connection) as queries:
        author.delete()
    assert ObjectDelta.objects.filter(action=UPDATE, description="gone").count() == 10_000
    assert AttributeDelta.objects.filter(field_name="author", new_value__isnull=True).count() == 10_000
    assert not Review.objects.exclude(author=None).exists()
    print(f"INSERTs into delta tables for 10000 keys set null: {delta_inserts(queries)}")
    assert delta_inserts(queries) <= 15


# Without a context, or with a disabled one, revy's handlers are Django's.

HANDLERS_AND_TWINS = [
    (Post, "author", deletion.CASCADE, models.CASCADE),
    (Comment, "post", deletion.CASCADE, models.CASCADE),
    (Blocker, "post", deletion.CASCADE, models.CASCADE),
    (Review, "author", deletion.SET_NULL, models.SET_NULL),
    (Review, "editor", None, models.SET(fallback_author)),
    (Review, "moderator", deletion.SET_DEFAULT, models.SET_DEFAULT),
]


@contextmanager
def declared_with(handlers: dict[tuple[type[models.Model], str], Any]) -> Iterator[None]:
    """The test models as if their foreign keys were declared with ``handlers``."""
    originals = {key: key[0]._meta.get_field(key[1]).remote_field.on_delete for key in handlers}
    try:
        for (model, name), handler in handlers.items():
            model._meta.get_field(name).remote_field.on_delete = handler
        yield
    finally:
        for (model, name), handler in originals.items():
            model._meta.get_field(name).remote_field.on_delete = handler


def djangos_own_handlers() -> Any:
    """The test models as they would be declared with Django's handlers."""
    for model, name, revy, _ in HANDLERS_AND_TWINS:
        original = model._meta.get_field(name).remote_field.on_delete
        assert original is revy or (revy is None and getattr(original, deletion.SETS_FIELD, False))
    return declared_with({(model, name): django for model, name, _, django in HANDLERS_AND_TWINS})


def world() -> dict[str, Any]:
    """Authors whose deletions cascade, set keys, are protected or restricted."""
    Author.objects.create(name="fallback")
    cascading = family("cascading")
    Review.objects.create(author=cascading, editor=cascading, moderator=cascading)
    Review.objects.create(editor=cascading)
    Blocker.objects.create(author=cascading, post=cascading.posts.first())
    protected = family("protected")
    Guard.objects.create(author=protected)
    restricted = family("restricted")
    Blocker.objects.create(author=restricted, post=cascading.posts.last())
    return {"cascading": cascading.pk, "protected": protected.pk, "restricted": restricted.pk}


def outcome(delete: Callable[[], Any]) -> tuple[Any, dict[str, list[tuple[Any, ...]]], int]:
    """What ``delete`` returns or raises, the rows it leaves and the deltas it records; then it is undone."""
    with transaction.atomic():
        try:
            result: Any = delete()
        except (ProtectedError, RestrictedError) as error:
            blocking = getattr(error, "protected_objects", None) or error.restricted_objects
            result = (type(error), str(error.args[0]), sorted((type(o).__name__, o.pk) for o in blocking))
        left = rows()
        recorded = ObjectDelta.objects.count() + Revision.objects.count()
        transaction.set_rollback(True)
    return result, left, recorded


DELETIONS = {
    "cascade-and-set": lambda pks: Author.objects.get(pk=pks["cascading"]).delete(),
    "protected": lambda pks: Author.objects.get(pk=pks["protected"]).delete(),
    "restricted": lambda pks: Author.objects.get(pk=pks["restricted"]).delete(),
    "queryset": lambda pks: Author.objects.filter(pk__in=[pks["cascading"], pks["restricted"]]).delete(),
}


@pytest.mark.parametrize("scope", ["no context", "disabled context"])
@pytest.mark.parametrize("deletion_name", list(DELETIONS))
def test_without_an_enabled_context_handlers_act_as_djangos_and_record_nothing(scope, deletion_name):
    pks = world()
    delete = DELETIONS[deletion_name]
    with djangos_own_handlers():
        expected = outcome(lambda: delete(pks))
    if scope == "no context":
        actual = outcome(lambda: delete(pks))
    else:
        with Context.as_disabled():
            actual = outcome(lambda: delete(pks))
    assert actual == expected
    result, left, recorded = actual
    assert recorded == 0
    if deletion_name == "cascade-and-set":
        assert result[0] > 1 and left["Review"] != rows()["Review"]  # the comparison covers real work


def test_deleting_rows_loaded_without_some_fields_reads_them_once_for_all():
    for name in ("a", "b", "c", "d", "e"):
        Author.objects.create(name=name)
    with Context(), CaptureQueriesContext(connection) as queries:
        Author.objects.only("id").delete()
    sql = [q["sql"] for q in queries.captured_queries]
    reads = [statement for statement in sql if statement.startswith("SELECT") and "testapp_author" in statement]
    assert len(reads) == 2  # Django's collection, then revy's one read of the deferred names
    unset = AttributeDelta.objects.filter(field_name="name").values_list("old_value", flat=True)
    assert sorted(unset) == ["a", "b", "c", "d", "e"]
