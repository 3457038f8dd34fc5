"""Property: a snapshot of any delta is the object as the database held it then."""

import datetime
import string

from django.contrib.auth.models import User
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from revy import Context
from revy.contrib.django.models import ObjectDelta
from revy.contrib.django.specs import spec_for
from tests.testapp.models import Category, Organization, Record, Tag

FIELDS = spec_for(Record).fields
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)


def field_values(categories, organizations, tags):
    return {
        "title": text,
        "body": text,
        "count": st.integers(-(2**31), 2**31 - 1),
        "big": st.none() | st.integers(-(2**63), 2**63 - 1),
        "ratio": st.floats(allow_nan=False, allow_infinity=False),
        "price": st.decimals(min_value=-(10**8) + 1, max_value=10**8 - 1, places=4),
        "active": st.booleans(),
        "flag": st.none() | st.booleans(),
        "day": st.none() | st.dates(datetime.date(1000, 1, 1)),
        "moment": st.none()
        | st.datetimes(datetime.datetime(1000, 1, 2), timezones=st.just(datetime.UTC)),
        "clock": st.none() | st.times(),
        "span": st.none() | st.timedeltas(-datetime.timedelta(days=10**5), datetime.timedelta(days=10**5)),
        "token": st.uuids(version=4),
        "data": json_values,
        "blob": st.none() | st.binary(max_size=20),
        "email": st.text(string.ascii_letters + "@.", max_size=20),
        "slug": st.text(string.ascii_letters + "-_", max_size=20),
        "ip": st.none() | st.ip_addresses().map(str),
        "category_id": st.none() | st.sampled_from(categories),
        "organization_id": st.none() | st.sampled_from(organizations),
        "tag_id": st.none() | st.sampled_from(tags),
    }


def state(record):
    """Every tracked field by attname, bytes as bytes, with its type."""
    values = {}
    for field in FIELDS:
        value = getattr(record, field.attname)
        if isinstance(value, memoryview):
            value = bytes(value)
        values[field.attname] = value if field.name == "data" else (type(value), value)
    return values


def wait_past(moment):
    # as_of() tells steps apart by time: the next step must start after this one's deltas.
    while timezone.now() <= moment:
        pass


class SnapshotPropertyTests(TestCase):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_snapshots_and_as_of_replay_every_step(self, data):
        actors = [
            User.objects.create(username="actor"),
            Organization.objects.create(name="actor org"),
            None,
        ]
        categories = [Category.objects.create(name=str(i)).pk for i in range(2)]
        organizations = [Organization.objects.create(name=f"org {i}").pk for i in range(2)]
        tags = [Tag.objects.create(code=f"t{i}").pk for i in range(2)]
        strategies = field_values(categories, organizations, tags)
        alive: list[int] = []
        gone: list[int] = []
        timeline: dict[int, list[tuple[datetime.datetime, dict | None]]] = {}

        for _ in range(data.draw(st.integers(1, 8), label="steps")):
            kinds = ["create"] + ["update", "delete"] * bool(alive) + ["undelete"] * bool(gone)
            kind = data.draw(st.sampled_from(kinds), label="kind")
            actor = data.draw(st.sampled_from(actors), label="actor")
            with Context.via_actor(actor):
                if kind == "create":
                    names = data.draw(st.sets(st.sampled_from(list(strategies))), label="fields")
                    record = Record.objects.create(**{n: data.draw(strategies[n], label=n) for n in names})
                    pk = record.pk
                    alive.append(pk)
                elif kind == "update":
                    pk = data.draw(st.sampled_from(alive), label="record")
                    record = Record.objects.get(pk=pk)
                    for name in data.draw(st.sets(st.sampled_from(list(strategies)), min_size=1), label="fields"):
                        setattr(record, name, data.draw(strategies[name], label=name))
                    record.save()
                elif kind == "delete":
                    pk = data.draw(st.sampled_from(alive), label="record")
                    Record.objects.get(pk=pk).delete()
                    alive.remove(pk)
                    gone.append(pk)
                else:
                    pk = data.draw(st.sampled_from(gone), label="record")
                    Record.history.deleted().get(content_id=str(pk)).snapshot.save()
                    gone.remove(pk)
                    alive.append(pk)

            newest = Record(pk=pk).history.with_snapshot().first()
            real = Record.objects.filter(pk=pk).first()
            if real is None:
                assert newest.action == ObjectDelta.ACTION_DELETE
                expected = None
                assert state(newest.snapshot) == timeline[pk][-1][1]
            else:
                expected = state(real)
                assert state(newest.snapshot) == expected
            if not timeline.get(pk) or timeline[pk][-1][0] != newest.created_at:
                timeline.setdefault(pk, []).append((newest.created_at, expected))
            wait_past(newest.created_at)

            for pk, points in timeline.items():
                history = Record(pk=pk).history
                for moment, expected in points:
                    as_of = history.as_of(moment)
                    assert (None if as_of is None else state(as_of)) == expected
