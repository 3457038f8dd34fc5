"""``manage.py demo``: record a few changes with revy, print their history, then serve the project.

Pass ``--no-serve`` (or set ``REVY_EXAMPLE_NO_SERVE=1``) to stop after the printout.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from revy import Context
from revy.contrib.django.models import get_revision_model
from shop.models import Customer, Invoice

ADDRESS = "127.0.0.1:8000"
DEMO_LOGIN = ("admin", "revy-demo")


class Command(BaseCommand):
    help = "Start from an empty database, record a few changes, print their history and serve the project."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Stop after printing the history.")

    def handle(self, *args: Any, no_serve: bool, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
        record_changes()
        create_demo_login()
        self.print_history()
        self.print_past_state()
        invoice = Invoice.objects.get(number="INV-1")
        self.stdout.write(
            f"\nDemo login for the admin: {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]}\n"
            f"  http://{ADDRESS}/admin/  (the history of INV-1, with two actors in one revision: "
            f"http://{ADDRESS}/admin/shop/invoice/{invoice.pk}/history/)"
        )
        if no_serve or os.environ.get("REVY_EXAMPLE_NO_SERVE", "") not in ("", "0"):
            return
        self.stdout.write(f"\nServing the example on http://{ADDRESS}/ (Ctrl-C stops).")
        call_command("runserver", ADDRESS, use_reloader=False)

    def print_history(self) -> None:
        revisions = (
            get_revision_model()
            .objects.order_by("pk")
            .prefetch_related(
                "object_deltas__content_type", "object_deltas__actor", "object_deltas__attribute_deltas__actor"
            )
        )
        for revision in revisions:
            deltas = sorted(revision.object_deltas.all(), key=lambda d: d.pk)
            actors = sorted({name_of(a.actor) for delta in deltas for a in delta.attribute_deltas.all()})
            self.stdout.write(f"\nRevision {revision.pk}: {revision.description!r} (actors: {', '.join(actors)})")
            for delta in deltas:
                about = f": {delta.description}" if delta.description else ""
                self.stdout.write(
                    f"  {delta.get_action_display()} {delta.content_type.app_label}.{delta.content_type.model}"
                    f" #{delta.content_id} by {name_of(delta.actor)}{about}"
                )
                for attribute in sorted(delta.attribute_deltas.all(), key=lambda a: a.pk):
                    about = f": {attribute.description}" if attribute.description else ""
                    self.stdout.write(
                        f"    {attribute.field_name}: {json.dumps(attribute.old_value)} -> "
                        f"{json.dumps(attribute.new_value)}  (by {name_of(attribute.actor)}{about})"
                    )


    def print_past_state(self) -> None:
        invoice = Invoice.objects.get(number="INV-1")
        created = invoice.history.creates().last().created_at  # newest first: last() is the first
        then = invoice.history.as_of(created)
        self.stdout.write(
            f"\nINV-1 now: amount {invoice.amount}, local {invoice.local_amount}; "
            f"as of its creation: amount {then.amount}, local {then.local_amount}"
        )


def name_of(actor: Any) -> str:
    return "the system" if actor is None else str(actor)


def create_demo_login() -> None:
    """A superuser for the admin, created outside any context: nothing about it is recorded."""
    username, password = DEMO_LOGIN
    User.objects.create_superuser(username, email="admin@example.com", password=password)


def record_changes() -> None:
    """Nine revisions, each made inside its own context."""
    with Context.via_revision_description("Alice signs up"):
        alice = User(username="alice", email="alice@example.com")
        alice.set_password("correct horse battery staple")
        alice.save()

    with Context.via_actor(alice), Context.via_revision_description("Alice bills ACME"):
        acme = Customer.objects.create(name="ACME")
        invoice = Invoice(customer=acme, number="INV-1", amount=Decimal("100.00"), exchange_rate=Decimal("1.1000"))
        invoice.local_amount = invoice.expected_local_amount()
        invoice.save()
        Invoice.objects.create(
            customer=acme,
            number="INV-2",
            amount=Decimal("40.00"),
            exchange_rate=Decimal("1.0000"),
            local_amount=Decimal("40.00"),
        )

    # A collaborative edit: Alice changes the amount, the system corrects the derived field.
    with (
        Context.via_actor(alice),
        Context.via_revision_description("Alice bills 20 more"),
        Context.via_object_delta_description("Two more hours of work"),
    ):
        invoice.amount = Decimal("120.00")
        if invoice.local_amount != invoice.expected_local_amount():
            with Context.via_actor(None), Context.via_attribute_delta_description("Corrected by the system."):
                invoice.local_amount = invoice.expected_local_amount()
        invoice.save()

    # revy's CASCADE records every invoice deleted with the customer, in the same revision.
    with (
        Context.via_actor(alice),
        Context.via_revision_description("ACME closes its account"),
        Context.via_object_delta_description("Closed at the customer's request"),
        Context.via_deletion_description("Deleted with its customer"),
    ):
        acme.delete()

    # Undo the closure: ACME and both invoices come back with their pks, recorded as revision 5.
    closure = get_revision_model().objects.get(description="ACME closes its account")
    with Context.via_actor(alice), Context.via_revision_description("Alice reopens ACME"):
        closure.revert()

    # An undelete: INV-2 deleted by mistake, then brought back from its last state.
    with Context.via_actor(alice), Context.via_revision_description("Alice deletes INV-2 by mistake"):
        Invoice.objects.get(number="INV-2").delete()
    with Context.via_actor(alice), Context.via_revision_description("Alice restores INV-2"):
        for delta in Invoice.history.deleted():
            delta.snapshot.save()

    # A customer left deleted, for the admin's "Recover deleted customers" page.
    with Context.via_actor(alice), Context.via_revision_description("Alice adds a test customer"):
        Customer.objects.create(name="Globex (test)")
    with Context.via_actor(alice), Context.via_revision_description("Alice removes the test customer"):
        Customer.objects.get(name="Globex (test)").delete()
