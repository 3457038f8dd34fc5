"""bulk_create(), bulk_update() and QuerySet.update() recorded (contract §10), on every backend."""

from __future__ import annotations

import itertools
import math
import threading
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Upper
from django.test.utils import CaptureQueriesContext, isolate_apps

import revy
from revy import Context, RevyTrackedModel, UnrecordableWrite
from revy.contrib.django import tracking, writer
from revy.contrib.django.checks import check_bulk_writes
from revy.contrib.django.models import AttributeDelta, ObjectDelta, ObjectSnapshot, Revision
from revy.contrib.django.querysets import RevyQuerySetMixin
from tests.testapp.models import Article, Author, AuthorProxy, Restaurant

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
ARTICLE_FIELDS = {"id", "title", "price", "count", "author"}


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(TRANSACTION_CONTROL)]


def changes_of(delta: Any) -> dict[str, tuple[Any, Any]]:
    return {a.field_name: (a.old_value, a.new_value) for a in delta.attribute_deltas.all()}


def articles(n: int, **values: Any) -> list[Article]:
    return [Article(title=f"a{i}", price=Decimal("1.50"), count=i, **values) for i in range(n)]


def saved_articles(n: int) -> list[Article]:
    """``n`` articles created (and recorded) in a context of their own, loaded back."""
    with Context.via_revision_description("setup"):
        made = Article.objects.bulk_create(articles(n))
    return list(Article.objects.filter(pk__in=[a.pk for a in made]).order_by("pk"))


def delta_inserts(rows: int, attributes_per_row: int) -> int:
    """INSERTs the writer needs for ``rows`` object deltas with that many attribute deltas each."""
    writers = writer.writers_for(connection.alias)
    if writers.object_delta.pg_types is not None:
        return 2  # PostgreSQL: one statement per table, the rows as arrays
    return math.ceil(rows / writers.object_delta.batch_rows) + math.ceil(
        rows * attributes_per_row / writers.attribute_delta.batch_rows
    )


# bulk_create


@pytest.mark.django_db
@pytest.mark.parametrize("n", [500, 5000])
def test_bulk_create_records_a_create_with_every_tracked_field_and_costs_statements_per_chunk(n: int) -> None:
    author = Author.objects.create(name="ann")
    objs = articles(n, author=author)
    fields = [f for f in Article._meta.concrete_fields if not f.primary_key]
    django_batches = math.ceil(n / connection.ops.bulk_batch_size(fields, objs))
    with Context.via_actor(author), Context.via_revision_description("import"):
        Author.objects.create(name="warm")  # the revision exists: the steady state
        ContentType.objects.get_for_model(Article)  # and the content type is cached
        with CaptureQueriesContext(connection) as captured:
            made = Article.objects.bulk_create(objs)

    assert len(statements(captured)) == django_batches + delta_inserts(n, len(ARTICLE_FIELDS))
    assert all(a.pk is not None for a in made)
    creates = ObjectDelta.objects.for_model(Article).creates()
    assert creates.count() == n
    assert set(creates.values_list("revision__description", flat=True)) == {"import"}
    assert {d.actor for d in creates[:3]} == {author}
    sample = creates.get(content_id=str(made[7].pk))
    assert changes_of(sample) == {
        "id": (None, made[7].pk),
        "title": (None, "a7"),
        "price": (None, "1.50"),
        "count": (None, 7),
        "author": (None, author.pk),
    }
    assert AttributeDelta.objects.for_model(Article).count() == n * len(ARTICLE_FIELDS)


@pytest.mark.django_db
def test_bulk_create_snapshot_equals_the_row_and_a_later_save_records_from_it() -> None:
    with Context():
        (article,) = Article.objects.bulk_create([Article(title="draft", price=Decimal("2"))])
        article.title = "final"
        article.save()

    update = article.history.updates().get()
    assert changes_of(update) == {"title": ("draft", "final")}
    snapshot = article.history.creates().annotate(snapshot=ObjectSnapshot(Article)).get().snapshot
    assert (snapshot.pk, snapshot.title, snapshot.price, snapshot.count) == (article.pk, "draft", Decimal("2.00"), 0)


@pytest.mark.django_db
def test_bulk_create_with_ignore_conflicts_is_refused_before_writing() -> None:
    with Context(), pytest.raises(UnrecordableWrite, match="ignore_conflicts"):
        Article.objects.bulk_create(articles(2), ignore_conflicts=True)

    assert not Article.objects.exists()
    assert not ObjectDelta.objects.exists()


@pytest.mark.django_db
def test_bulk_create_without_ids_back_is_refused_where_the_database_returns_none(monkeypatch: Any) -> None:
    # MySQL (not MariaDB) returns no ids from a bulk insert; the feature flag is how Django knows.
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    with Context(), pytest.raises(UnrecordableWrite, match="primary keys"):
        Article.objects.bulk_create(articles(2))
    with Context():
        Article.objects.bulk_create([Article(pk=40, title="given"), Article(pk=41, title="too")])

    assert not Article.objects.exclude(pk__in=[40, 41]).exists()
    assert set(ObjectDelta.objects.creates().values_list("content_id", flat=True)) == {"40", "41"}


# bulk_update


@pytest.mark.django_db
def test_bulk_update_records_only_the_fields_whose_values_changed() -> None:
    first, second, third = saved_articles(3)
    first.title, first.count = "renamed", 0  # count unchanged: it is 0 already
    second.price = Decimal("9.99")
    third.count = F("count") + 10  # computed by the database
    with Context.via_revision_description("edit"), CaptureQueriesContext(connection) as captured:
        ContentType.objects.get_for_model(Article)
        rows = Article.objects.bulk_update([first, second, third], ["title", "price", "count"])

    assert rows == 3
    updates = {int(d.content_id): d for d in ObjectDelta.objects.updates()}
    assert set(updates) == {first.pk, second.pk, third.pk}
    assert changes_of(updates[first.pk]) == {"title": ("a0", "renamed")}
    assert changes_of(updates[second.pk]) == {"price": ("1.50", "9.99")}
    assert changes_of(updates[third.pk]) == {"count": (2, 12)}
    assert {d.revision.description for d in updates.values()} == {"edit"}
    # The old values, Django's UPDATE, the computed values read back, the revision and the deltas.
    assert len(statements(captured)) == 1 + 1 + 1 + 1 + delta_inserts(3, 1)


@pytest.mark.django_db
def test_bulk_update_keeps_the_actor_who_assigned_each_field() -> None:
    (article,) = saved_articles(1)
    editor, fixer = Author.objects.create(name="editor"), Author.objects.create(name="fixer")
    with Context.via_actor(fixer):
        article.price = Decimal("3.00")
    with Context.via_actor(editor):
        article.title = "edited"
        Article.objects.bulk_update([article], ["title", "price"])

    actors = {a.field_name: a.actor for a in ObjectDelta.objects.updates().get().attribute_deltas.all()}
    assert actors == {"title": editor, "price": fixer}


# update()


@pytest.mark.django_db
def test_update_with_expressions_records_what_the_database_computed_and_snapshots_equal_the_rows() -> None:
    saved_articles(4)
    with Context.via_revision_description("reprice"):
        rows = Article.objects.filter(count__gte=1).update(
            price=F("price") * 2,
            title=Case(When(count__gte=2, then=Upper("title")), default=Value("small")),
            count=F("count") + 1,
        )

    assert rows == 3
    updates = ObjectDelta.objects.updates().order_by("content_id")
    assert {d.revision.description for d in updates} == {"reprice"}
    by_pk = {int(d.content_id): changes_of(d) for d in updates}
    for article in Article.objects.filter(count__gte=2):
        old_count = article.count - 1
        assert by_pk[article.pk] == {
            "price": ("1.50", "3.00"),
            "title": (f"a{old_count}", "A2" if old_count == 2 else "A3") if old_count >= 2 else ("a1", "small"),
            "count": (old_count, article.count),
        }
    snapshots = ObjectDelta.objects.filter(pk__in=updates).annotate(snapshot=ObjectSnapshot(Article))
    for delta in snapshots:
        row = Article.objects.get(pk=delta.content_id)
        assert [getattr(delta.snapshot, f.attname) for f in Article._meta.concrete_fields] == [
            getattr(row, f.attname) for f in Article._meta.concrete_fields
        ]


@pytest.mark.django_db
def test_update_reads_old_values_once_and_new_ones_only_when_computed() -> None:
    saved_articles(50)
    queryset = Article.objects.filter(count__lt=40)
    with Context():
        Author.objects.create(name="warm")  # the revision exists
        ContentType.objects.get_for_model(Article)
        with transaction.atomic(), CaptureQueriesContext(connection) as plain_values:
            queryset.update(title="same", author=Author.objects.get(name="warm"))
        with CaptureQueriesContext(connection) as computed:
            queryset.update(count=F("count") + 1)

    executed = statements(plain_values)
    assert len(executed) == 1 + 1 + 1 + delta_inserts(40, 2)  # the author's get(), old values, UPDATE, deltas
    old_values = executed[1]
    assert old_values.startswith("SELECT")
    assert ("FOR UPDATE" in old_values) == connection.features.has_select_for_update
    assert not any(q["sql"].upper().startswith("SAVEPOINT") for q in plain_values.captured_queries)
    assert len(statements(computed)) == 1 + 1 + 1 + delta_inserts(40, 1)  # old values, UPDATE, new values, deltas
    warm = Author.objects.get(name="warm")
    assert ObjectDelta.objects.updates().count() == 80
    assert AttributeDelta.objects.filter(field_name="author", new_value=warm.pk).count() == 40


@pytest.mark.django_db
def test_update_that_changes_nothing_records_nothing() -> None:
    saved_articles(3)
    with Context():
        assert Article.objects.update(price=Decimal("1.5")) == 3
        assert Article.objects.filter(count=99).update(title="none") == 0

    assert not ObjectDelta.objects.updates().exists()


@pytest.mark.django_db
def test_update_and_its_deltas_roll_back_together() -> None:
    saved_articles(2)
    with pytest.raises(RuntimeError), transaction.atomic(), Context():
        Article.objects.update(title="gone")
        raise RuntimeError

    assert set(Article.objects.values_list("title", flat=True)) == {"a0", "a1"}
    assert not ObjectDelta.objects.updates().exists()


@pytest.mark.django_db
def test_update_through_a_proxy_and_of_a_multi_table_child_is_recorded_under_the_concrete_model() -> None:
    with Context():
        ann = Author.objects.create(name="ann")
        place = Restaurant.objects.create(name="Luigi's")
        AuthorProxy.objects.filter(pk=ann.pk).update(name="Ann")
        Restaurant.objects.filter(pk=place.pk).update(name="Mario's", serves_pizza=True)

    assert changes_of(ann.history.updates().get()) == {"name": ("ann", "Ann")}
    assert changes_of(place.history.updates().get()) == {
        "name": ("Luigi's", "Mario's"),
        "serves_pizza": (False, True),
    }


@pytest.mark.django_db(transaction=True)
def test_async_bulk_writes_are_recorded_like_their_sync_forms() -> None:
    async def write() -> None:
        async with Context.via_revision_description("async"):
            (article,) = await Article.objects.abulk_create([Article(title="a")])
            article.title = "b"
            await Article.objects.abulk_update([article], ["title"])
            await Article.objects.filter(pk=article.pk).aupdate(count=F("count") + 1)

    async_to_sync(write)()

    deltas = ObjectDelta.objects.order_by("pk")
    assert [changes_of(d) for d in deltas][1:] == [{"title": ("a", "b")}, {"count": (0, 1)}]
    assert {d.revision.description for d in deltas} == {"async"}


# Outside a context, or disabled: Django's own queries


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["no context", "disabled"])
def test_each_path_costs_djangos_queries_when_not_recording(scope: str) -> None:
    author = Author.objects.create(name="ann")
    saved = saved_articles(3)

    def run(queryset: models.QuerySet) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            made = queryset.bulk_create(articles(3, author=author))
            for article in made:
                article.title = "x"
            queryset.bulk_update(made + saved, ["title"])
            queryset.filter(count__gte=1).update(count=F("count") + 1, title="y")
        return [q["sql"] for q in captured.captured_queries]

    plain = run(models.QuerySet(Article))
    if scope == "disabled":
        with Context.as_disabled():
            revys = run(Article.objects.all())
    else:
        revys = run(Article.objects.all())

    assert len(revys) == len(plain)
    assert [sql.split()[0] for sql in revys] == [sql.split()[0] for sql in plain]
    assert ObjectDelta.objects.for_model(Article).count() == 3  # those of saved_articles() only


# Models whose manager is not revy's


@pytest.mark.django_db
def test_functions_record_bulk_writes_of_a_registered_model() -> None:
    revy.register(User, exclude=["password"])
    with Context.via_revision_description("users"):
        ann, bea = revy.bulk_create([User(username="ann"), User(username="bea")])
        ann.first_name, bea.first_name = "Ann", "Bea"
        assert revy.bulk_update([ann, bea], ["first_name"]) == 2
        assert revy.update(User.objects.filter(username="ann"), is_staff=True) == 1

    deltas = ObjectDelta.objects.for_model(User).order_by("pk")
    assert [d.action for d in deltas] == [ObjectDelta.ACTION_CREATE] * 2 + [ObjectDelta.ACTION_UPDATE] * 3
    assert "password" not in changes_of(deltas[0])
    assert changes_of(deltas[0])["username"] == (None, "ann")
    assert changes_of(deltas[2]) == {"first_name": ("", "Ann")}
    assert changes_of(deltas[4]) == {"is_staff": (False, True)}
    assert {d.revision.description for d in deltas} == {"users"}


@pytest.mark.django_db
def test_functions_on_revys_own_querysets_record_once() -> None:
    with Context():
        revy.bulk_create([Article(title="one")])
        revy.update(Article.objects.all(), title="two")

    actions = [d.action for d in ObjectDelta.objects.order_by("pk")]
    assert actions == [ObjectDelta.ACTION_CREATE, ObjectDelta.ACTION_UPDATE]


# Concurrency


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite runs one writer at a time: nothing overlaps")
@pytest.mark.django_db(transaction=True)
def test_overlapping_updates_from_two_threads_leave_an_unbroken_chain_of_values() -> None:
    with Context():
        made = Article.objects.bulk_create(articles(20))
    pks = [a.pk for a in made]
    initial = {a.pk: a.count for a in made}
    rounds = 15
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str, queryset_filter: dict[str, Any]) -> None:
        try:
            start.wait()
            for i in range(rounds):
                with Context.via_revision_description(name), transaction.atomic():
                    Article.objects.filter(**queryset_filter).update(
                        count=F("count") + 1, title=Value(f"{name}{i}"), price=F("price") + 1
                    )
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=("low", {"pk__lte": pks[14]})),
        threading.Thread(target=work, args=("high", {"pk__gte": pks[5]})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for article in Article.objects.filter(pk__in=pks):
        chain = list(
            AttributeDelta.objects.for_object(article).filter(field_name="count").order_by("pk").values_list(
                "old_value", "new_value"
            )
        )
        assert all(newer[0] == older[1] for older, newer in itertools.pairwise(chain))
        assert chain[-1][1] == article.count
        expected = rounds * ((article.pk <= pks[14]) + (article.pk >= pks[5]))
        assert article.count == initial[article.pk] + expected
        assert len(chain) == 1 + expected  # its create, then every update of either thread
        newest = article.history.order_by("-pk").annotate(snapshot=ObjectSnapshot(Article)).first().snapshot
        assert [getattr(newest, f.attname) for f in Article._meta.concrete_fields] == [
            getattr(article, f.attname) for f in Article._meta.concrete_fields
        ]
    assert Revision.objects.filter(description__in=["low", "high"]).count() == 2 * rounds


# The system check


def test_a_tracked_model_whose_default_manager_records_no_bulk_write_is_warned_about() -> None:
    registered = dict(tracking._specs)
    try:
        with isolate_apps("tests.testapp"):

            class Plain(RevyTrackedModel):
                name = models.CharField(max_length=10)
                objects = models.Manager()

                class Meta:
                    app_label = "testapp"

            class Mixed(RevyTrackedModel):
                name = models.CharField(max_length=10)
                objects = MixedQuerySet.as_manager()

                class Meta:
                    app_label = "testapp"

            warnings = [w for w in check_bulk_writes() if w.obj in (Plain, Mixed)]
    finally:
        tracking._specs.clear()
        tracking._specs.update(registered)

    assert [(w.id, w.obj) for w in warnings] == [("revy.W001", Plain)]
    assert "does not record bulk_create(), bulk_update() or update()" in warnings[0].msg


class MixedQuerySet(RevyQuerySetMixin, models.QuerySet):
    pass
