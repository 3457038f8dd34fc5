"""Many-to-many memberships recorded (contract §10): add, remove, clear and set, from either side."""

from __future__ import annotations

import io
import math
import time
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revy import Context
from revy.contrib.django import writer
from revy.contrib.django.models import AttributeDelta, ObjectDelta, Revision
from tests.testapp.models import Article, Author, Badge, Contribution, Label, Player

REVY_TABLES = tuple(model._meta.db_table for model in (Revision, ObjectDelta, AttributeDelta))


def memberships(delta: Any) -> list[tuple[str, int, Any]]:
    """(field, action, member) of each attribute delta of ``delta``."""
    return sorted(
        (a.field_name, a.action, a.new_value if a.action == AttributeDelta.ACTION_SET else a.old_value)
        for a in delta.attribute_deltas.all()
    )


def moment() -> Any:
    time.sleep(0.002)  # deltas of the next step get a later created_at
    now = timezone.now()
    time.sleep(0.002)
    return now


@pytest.fixture
def objects() -> dict[str, Any]:
    with Context():
        labels = [Label.objects.create(name=n) for n in ("red", "green", "blue", "gray")]
        return {
            "article": Article.objects.create(title="on colours"),
            "labels": labels,
            "ann": Author.objects.create(name="ann"),
            "bea": Author.objects.create(name="bea"),
        }


SET, UNSET = AttributeDelta.ACTION_SET, AttributeDelta.ACTION_UNSET


@pytest.mark.django_db
def test_each_change_from_the_declaring_side_is_recorded_with_its_actor_and_revision(objects: dict[str, Any]) -> None:
    article, (red, green, blue, gray), ann = objects["article"], objects["labels"], objects["ann"]
    steps = [
        ("add", lambda: article.labels.add(red, green), {red.pk, green.pk}),
        ("remove", lambda: article.labels.remove(green, gray), {red.pk}),  # gray was no member
        ("set", lambda: article.labels.set([blue, red]), {red.pk, blue.pk}),
        ("clear", lambda: article.labels.clear(), set()),
        ("set again", lambda: article.labels.set([gray]), {gray.pk}),
    ]
    moments = [moment()]
    for description, change, _ in steps:
        with Context.via_actor(ann), Context.via_revision_description(description):
            change()
        moments.append(moment())

    article_deltas = article.history.updates().order_by("pk")
    assert [memberships(d) for d in article_deltas] == [
        [("labels", SET, red.pk), ("labels", SET, green.pk)],
        [("labels", UNSET, green.pk)],
        [("labels", SET, blue.pk)],
        [("labels", UNSET, red.pk), ("labels", UNSET, blue.pk)],
        [("labels", SET, gray.pk)],
    ]
    assert [d.revision.description for d in article_deltas] == ["add", "remove", "set", "clear", "set again"]
    assert {d.actor for d in article_deltas} == {ann}
    assert {a.actor for d in article_deltas for a in d.attribute_deltas.all()} == {ann}
    # The other side is tracked too: each label records the articles it gained and lost.
    assert [memberships(d) for d in red.history.updates().order_by("pk")] == [
        [("articles", SET, article.pk)],
        [("articles", UNSET, article.pk)],
    ]
    # The relation as of every step.
    assert article.history.members("labels", as_of=moments[0]) == set()
    for (_, _, members), when in zip(steps, moments[1:], strict=True):
        assert article.history.members("labels", as_of=when) == members
    assert article.history.members("labels") == set(article.labels.values_list("pk", flat=True))
    assert red.history.members("articles", as_of=moments[1]) == {article.pk}
    assert red.history.members("articles") == set()


@pytest.mark.django_db
def test_changes_from_the_other_side_are_recorded_on_both(objects: dict[str, Any]) -> None:
    article, (red, *_), bea = objects["article"], objects["labels"], objects["bea"]
    other = Article.objects.create(title="unrecorded")  # outside any context
    with Context.via_actor(bea):
        red.articles.add(article, other)
    with Context.via_actor(bea):
        red.articles.remove(other)

    assert [memberships(d) for d in red.history.updates().order_by("pk")] == [
        [("articles", SET, article.pk), ("articles", SET, other.pk)],
        [("articles", UNSET, other.pk)],
    ]
    assert [memberships(d) for d in article.history.updates()] == [[("labels", SET, red.pk)]]
    assert [memberships(d) for d in other.history.updates().order_by("pk")] == [
        [("labels", SET, red.pk)],
        [("labels", UNSET, red.pk)],
    ]
    assert {d.actor for d in ObjectDelta.objects.updates()} == {bea}
    assert red.history.members("articles") == {article.pk}


@pytest.mark.django_db
def test_memberships_through_an_explicit_through_model_are_recorded(objects: dict[str, Any]) -> None:
    article, ann, bea = objects["article"], objects["ann"], objects["bea"]
    with Context.via_actor(bea):
        article.contributors.add(ann, bea, through_defaults={"role": "editor"})
        ann.contributed_articles.remove(article)
        article.contributors.set([ann])

    assert list(Contribution.objects.values_list("author__name", "role")) == [("ann", "writer")]
    assert [memberships(d) for d in article.history.updates().order_by("pk")] == [
        [("contributors", SET, ann.pk), ("contributors", SET, bea.pk)],
        [("contributors", UNSET, ann.pk)],
        [("contributors", UNSET, bea.pk)],
        [("contributors", SET, ann.pk)],
    ]
    assert [memberships(d) for d in ann.history.updates().order_by("pk")] == [
        [("contributed_articles", SET, article.pk)],
        [("contributed_articles", UNSET, article.pk)],
        [("contributed_articles", SET, article.pk)],
    ]
    assert article.history.members("contributors") == {ann.pk}


@pytest.mark.django_db
def test_revert_of_a_set_restores_the_old_members(objects: dict[str, Any]) -> None:
    article, (red, green, blue, gray), ann = objects["article"], objects["labels"], objects["ann"]
    with Context():
        article.labels.set([red, green])
    with Context.via_revision_description("relabel"):
        article.labels.set([blue, gray, red])

    with Context.via_actor(ann):
        undo = Revision.objects.get(description="relabel").revert()

    assert set(article.labels.all()) == {red, green}
    assert undo is not None
    assert {d.actor for d in ObjectDelta.objects.filter(revision=undo)} == {ann}
    assert article.history.members("labels") == {red.pk, green.pk}
    assert blue.history.members("articles") == set()


@pytest.mark.django_db
def test_revert_to_a_delta_puts_the_members_back_too(objects: dict[str, Any]) -> None:
    article, (red, green, blue, _) = objects["article"], objects["labels"]
    with Context():
        article.labels.add(red)
        article.title = "first title"
        article.save()
        article.labels.set([green, blue])
        article.title = "second title"
        article.save()

    first_title = article.history.filter(attribute_deltas__field_name="title").order_by("pk")[1]
    with Context():
        article.history.revert_to(first_title)

    article.refresh_from_db()
    assert article.title == "first title"
    assert set(article.labels.all()) == {red}


@pytest.mark.django_db
def test_one_add_of_a_thousand_members_costs_statements_per_chunk_not_per_member() -> None:
    with Context.as_disabled():
        labels = Label.objects.bulk_create([Label(name=f"l{i}") for i in range(1000)])
        article = Article.objects.create(title="many")
    ContentType.objects.get_for_model(Article)
    ContentType.objects.get_for_model(Label)
    with Context():
        Author.objects.create(name="warm")  # the revision exists
        with CaptureQueriesContext(connection) as captured:
            article.labels.add(*labels)

    writers = writer.writers_for(connection.alias)
    if writers.object_delta.pg_types is not None:
        inserts = 2
    else:  # 1,001 object deltas (the article, each label), 2,000 attribute deltas
        inserts = math.ceil(1001 / writers.object_delta.batch_rows)
        inserts += math.ceil(2000 / writers.attribute_delta.batch_rows)
    through = Article.labels.through._meta.get_field("label")
    django_inserts = math.ceil(1000 / connection.ops.bulk_batch_size([through, through], labels))
    # Django's read of the members already there and its INSERTs, then the deltas.
    assert len(captured.captured_queries) == 1 + django_inserts + inserts
    assert AttributeDelta.objects.filter(field_name="labels").count() == 1000
    assert ObjectDelta.objects.for_model(Label).updates().count() == 1000
    with Context():
        labels[0].delete()
    # What became of a thousand members is read in chunks of keys, under every database's cap.
    assert article.history.members("labels") == {label.pk for label in labels[1:]}


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["no context", "disabled"])
def test_membership_changes_write_no_delta_when_not_recording(objects: dict[str, Any], scope: str) -> None:
    article, (red, green, *_) = objects["article"], objects["labels"]
    recorded = ObjectDelta.objects.count()
    with CaptureQueriesContext(connection) as captured:
        if scope == "disabled":
            with Context.as_disabled():
                article.labels.add(red, green)
                article.labels.clear()
        else:
            article.labels.add(red, green)
            article.labels.clear()

    assert not any(table in q["sql"] for q in captured.captured_queries for table in REVY_TABLES)
    # Django's own: the members already there, the INSERT; the DELETE of the clear.
    assert len(captured.captured_queries) == 3
    assert ObjectDelta.objects.count() == recorded


@pytest.mark.django_db
def test_undoing_a_deletion_gives_the_object_back_its_members(objects: dict[str, Any]) -> None:
    article, (red, green, blue, _), ann = objects["article"], objects["labels"], objects["ann"]
    with Context():
        article.labels.set([red, green, blue])
        article.contributors.add(ann)
    blue_pk, article_pk = blue.pk, article.pk
    with Context():
        blue.delete()  # a member gone before the undo: left out
    with Context.via_revision_description("cleanup"):
        article.labels.remove(green)
        article.delete()

    Revision.objects.get(description="cleanup").revert()

    article = Article.objects.get(pk=article_pk)
    assert set(article.labels.all()) == {red, green}
    assert list(article.contributors.all()) == [ann]
    assert blue_pk not in set(article.labels.values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_member_deleted_leaves_its_relations_then_and_joins_again_when_the_deletion_is_undone(
    objects: dict[str, Any],
) -> None:
    article, (red, green, *_), ann = objects["article"], objects["labels"], objects["ann"]
    with Context():
        article.labels.add(red, green)
        article.contributors.add(ann)
    before = moment()
    red_pk, ann_pk = red.pk, ann.pk
    with Context.via_revision_description("red goes"):
        red.delete()  # Django deletes its through rows without m2m_changed
    with Context():
        ann.delete()  # through an explicit through model too
    after = moment()

    assert article.history.members("labels") == {green.pk}
    assert article.history.members("labels", as_of=before) == {red_pk, green.pk}
    assert article.history.members("contributors", as_of=before) == {ann_pk}
    assert article.history.members("contributors", as_of=after) == set()
    red_delete = ObjectDelta.objects.for_model(Label).deletes().get(content_id=str(red_pk))
    assert article.history.members("labels", at=red_delete) == {green.pk}

    with Context():  # the undo is recorded
        Revision.objects.get(description="red goes").revert()

    assert set(article.labels.values_list("pk", flat=True)) == {red_pk, green.pk}
    assert article.history.members("labels") == {red_pk, green.pk}  # joined again after its undelete
    assert article.history.members("labels", as_of=after) == {green.pk}


@pytest.mark.django_db
def test_the_deleted_object_is_no_member_of_the_other_side_after_its_deletion(objects: dict[str, Any]) -> None:
    article, (red, *_) = objects["article"], objects["labels"]
    with Context():
        article.labels.add(red)
    before, article_pk = moment(), article.pk
    with Context():
        article.delete()
    assert red.history.members("articles", as_of=before) == {article_pk}
    assert red.history.members("articles") == set()


@pytest.mark.django_db
def test_the_baseline_records_the_members_each_row_has_on_each_tracked_side() -> None:
    from django.core.management import call_command

    # Outside every context: nothing is recorded.
    red, green = Label.objects.create(name="red"), Label.objects.create(name="green")
    article, bare = Article.objects.create(title="old"), Article.objects.create(title="no labels")
    ann = Author.objects.create(name="ann")
    article.labels.add(red, green)
    Contribution.objects.create(article=article, author=ann, role="editor")
    assert not ObjectDelta.objects.exists()
    with CaptureQueriesContext(connection) as captured:
        call_command("revy_baseline", "testapp.Article", "testapp.Label", "testapp.Author", stdout=io.StringIO())
    assert article.history.members("labels") == {red.pk, green.pk}
    assert article.history.members("contributors") == {ann.pk}
    assert bare.history.members("labels") == set()
    assert red.history.members("articles") == {article.pk}
    assert ann.history.members("contributed_articles") == {article.pk}
    assert article.history.get().action == ObjectDelta.ACTION_CREATE
    assert article.history.with_snapshot()[0].snapshot.title == "old"  # its members do not disturb its fields
    # One read of each side's through rows per chunk, whatever the number of rows and members.
    through_reads = [q for q in captured.captured_queries if Contribution._meta.db_table in q["sql"]]
    assert len(through_reads) == 2  # the articles' contributors, ann's contributed articles


@pytest.mark.django_db
def test_an_undo_gives_back_a_member_its_revision_deleted_before_the_object_on_a_one_sided_relation() -> None:
    with Context():
        player, badge = Player.objects.create(name="p"), Badge.objects.create(name="b")
        player.badges.add(badge)
    with Context.via_revision_description("both go"):
        badge.delete()  # first: by the time the player goes, it is no member any more
        player.delete()
    with Context():
        Revision.objects.get(description="both go").revert()
    assert [b.name for b in Player.objects.get().badges.all()] == ["b"]
    assert Player.objects.get().history.members("badges") == {Badge.objects.get().pk}


@pytest.mark.django_db
def test_empty_pages_of_snapshots_are_empty_as_django_slices_are() -> None:
    from django.core.paginator import Paginator

    untracked = Article.objects.create(title="before tracking")  # outside every context: no delta
    assert list(Paginator(untracked.history.with_snapshot(), 20).page(1)) == []
    with Context():
        article = Article.objects.create(title="a")
    for low, high in ((0, 0), (2, 2), (3, 1), (5, 9)):
        assert list(article.history.with_snapshot()[low:high]) == list(article.history.all()[low:high]) == []
