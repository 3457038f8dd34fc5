import pytest

from revy import Context, RevertConflict
from revy.contrib.django.models import ObjectDelta, Revision
from tests.testapp.models import Author, Post, Review


def database_state():
    return (
        sorted(Author.objects.values_list("pk", "name")),
        sorted(Post.objects.values_list("pk", "author_id", "title")),
        sorted(Review.objects.values_list("pk", "author_id", "score")),
        ObjectDelta.objects.count(),
        Revision.objects.count(),
    )


@pytest.fixture
def author_with_posts():
    with Context():
        author = Author.objects.create(name="ann")
        posts = [Post.objects.create(author=author, title=f"post {i}") for i in range(3)]
    return author, posts


@pytest.mark.django_db
def test_undo_of_a_cascaded_deletion_restores_parent_and_children_in_a_new_revision(author_with_posts):
    author, posts = author_with_posts
    before = (author.pk, sorted((p.pk, p.author_id, p.title) for p in posts))
    with Context.via_revision_description("delete ann"):
        Author.objects.get().delete()
    deletion = Revision.objects.get(description="delete ann")
    assert not Author.objects.exists() and not Post.objects.exists()

    with Context():
        undo = deletion.revert()

    assert (Author.objects.get().pk, Author.objects.get().name) == (author.pk, "ann")
    assert (author.pk, sorted(Post.objects.values_list("pk", "author_id", "title"))) == before
    assert undo is not None and undo.pk != deletion.pk
    assert undo.description == f"Revert of revision {deletion.pk}"
    assert {(d.content_type.model, d.action) for d in undo.object_deltas.all()} == {
        ("author", ObjectDelta.ACTION_CREATE),
        ("post", ObjectDelta.ACTION_CREATE),
    }
    assert undo.object_deltas.count() == 4


@pytest.mark.django_db
def test_undo_puts_updated_fields_back_including_those_set_on_delete():
    with Context():
        author = Author.objects.create(name="ann")
        review = Review.objects.create(author=author, score=1)
    with Context():
        review.score = 5
        review.save()
        Author.objects.get().delete()
    revision = Revision.objects.first()
    with Context():
        revision.revert()
    review.refresh_from_db()
    assert (review.author_id, review.score) == (author.pk, 1)
    assert Author.objects.get().name == "ann"


@pytest.mark.django_db(transaction=True)
def test_undo_conflicting_with_a_taken_unique_value_raises_and_changes_nothing(author_with_posts):
    with Context():
        Author.objects.get().delete()
    deletion = Revision.objects.first()
    with Context():
        Author.objects.create(name="ann")
    state = database_state()
    with pytest.raises(RevertConflict, match="ann") as raised, Context():
        deletion.revert()
    assert raised.value.field == "name"
    assert isinstance(raised.value.obj, Author)
    assert database_state() == state


@pytest.mark.django_db(transaction=True)
def test_undo_conflicting_with_a_missing_foreign_key_target_raises_and_changes_nothing(author_with_posts):
    _, posts = author_with_posts
    with Context.via_revision_description("delete a post"):
        posts[0].delete()
    post_deletion = Revision.objects.get(description="delete a post")
    with Context():
        Author.objects.get().delete()
    state = database_state()
    with pytest.raises(RevertConflict, match="author") as raised, Context():
        post_deletion.revert()
    assert raised.value.field == "author"
    assert database_state() == state


@pytest.mark.django_db(transaction=True)
def test_a_conflict_found_only_by_the_database_rolls_back_every_write():
    # Two objects of one revision held the same unique value at different times:
    # only the database can tell that restoring both is impossible.
    revision = Revision.objects.create(description="shared")
    for _ in range(2):
        with Context():
            author = Author.objects.create(name="first")
        with Context.via_revision(revision):
            author.delete()
    state = database_state()
    with pytest.raises(RevertConflict, match=r"testapp\.Author"), Context():
        revision.revert()
    assert database_state() == state


@pytest.mark.django_db
def test_undo_of_a_change_to_an_object_deleted_since_is_a_conflict():
    with Context():
        author = Author.objects.create(name="ann")
    with Context.via_revision_description("rename"):
        author.name = "anne"
        author.save()
    rename = Revision.objects.get(description="rename")
    with Context():
        author.delete()
    with pytest.raises(RevertConflict, match="deleted since"):
        rename.revert()


@pytest.mark.django_db
def test_undo_outside_a_context_is_not_recorded():
    with Context():
        author = Author.objects.create(name="ann")
    with Context():
        author.delete()
    deletion = Revision.objects.first()
    deltas = ObjectDelta.objects.count()
    assert deletion.revert() is None
    assert Author.objects.get().name == "ann"
    assert ObjectDelta.objects.count() == deltas


@pytest.mark.django_db
def test_undo_revision_takes_the_context_revision_description():
    with Context():
        author = Author.objects.create(name="ann")
    with Context():
        author.delete()
    deletion = Revision.objects.first()
    with Context.via_revision_description("restore ann"):
        undo = deletion.revert()
    assert undo.description == "restore ann"
    assert list(undo.object_deltas.values_list("action", flat=True)) == [ObjectDelta.ACTION_CREATE]
