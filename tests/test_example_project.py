"""The example project's demo runs and prints the history it records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"


def test_demo_records_and_prints_a_collaborative_edit_a_cascade_and_its_undo(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(REVY_EXAMPLE_DB=str(tmp_path / "example.sqlite3"), REVY_EXAMPLE_NO_SERVE="1")
    result = subprocess.run(
        [sys.executable, str(MANAGE), "demo"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "Revision 3: 'Alice bills 20 more' (actors: alice, the system)" in lines
    assert 'amount: "100.00" -> "120.00"  (by alice)' in lines
    assert 'local_amount: "110.00" -> "132.00"  (by the system: Corrected by the system.)' in lines
    assert "delete shop.invoice #2 by the system: Deleted with its customer" in lines
    assert "delete shop.customer #1 by alice: Closed at the customer's request" in lines
    assert not any(line.startswith("password:") for line in lines)
    assert "Revision 5: 'Alice reopens ACME' (actors: alice)" in lines
    assert "create shop.invoice #1 by alice" in lines
    assert "INV-1 now: amount 120.00, local 132.00; as of its creation: amount 100.00, local 110.00" in lines


CHECK_HISTORY_PAGE = """
from django.test import Client
from django.test.utils import setup_test_environment
from revy.contrib.django.admin import actor_display
setup_test_environment()  # responses keep their template context
client = Client(SERVER_NAME="127.0.0.1")
assert client.login(username="admin", password="revy-demo")
home = client.get("/").content.decode()
assert "/admin/shop/invoice/1/history/" in home, home
response = client.get("/admin/shop/invoice/1/history/")
[collaborative] = [v for v in response.context["versions"] if v.revision_description == "Alice bills 20 more"]
print("actor:", actor_display(collaborative.actor))
for change in collaborative.fields:
    print("field:", change.label, change.old, change.new, actor_display(change.actor) if change.actor_differs else "-")
"""


def test_demo_login_opens_a_history_page_with_two_actors_in_one_revision(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(REVY_EXAMPLE_DB=str(tmp_path / "example.sqlite3"), REVY_EXAMPLE_NO_SERVE="1")
    demo = subprocess.run([sys.executable, str(MANAGE), "demo"], env=env, capture_output=True, text=True, check=False)
    assert demo.returncode == 0, demo.stderr
    assert "Demo login for the admin: admin / revy-demo" in demo.stdout
    check = subprocess.run(
        [sys.executable, str(MANAGE), "shell", "--verbosity", "0", "-c", CHECK_HISTORY_PAGE],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines() == [
        "actor: alice",
        "field: Amount 100.00 120.00 -",
        "field: Local amount 110.00 132.00 the system",
    ]
