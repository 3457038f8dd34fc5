"""A real browser through the example project's admin: edit, see the per-field history, revert.

Runs headless Chromium from Debian's packages (``apt-get install chromium
chromium-driver``) through Selenium; skipped, saying why, when they are not
installed. On failure it saves a screenshot under ``tests/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no Chromium browser and driver installed (apt-get install chromium chromium-driver)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def example_site(tmp_path: Path) -> Iterator[str]:
    """The example project, its demo recorded, served on a free port."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["REVY_EXAMPLE_DB"] = str(tmp_path / "example.sqlite3")
    subprocess.run([sys.executable, str(MANAGE), "demo", "--no-serve"], env=env, check=True, capture_output=True)
    address = f"127.0.0.1:{free_port()}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", address, "--noreload"], env=env, stdout=log, stderr=log
    )
    url = f"http://{address}"
    try:
        for _ in range(300):  # until the server answers
            try:
                urllib.request.urlopen(url + "/admin/login/", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError((tmp_path / "server.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    yield driver
    report = getattr(request.node, "revy_call_report", None)  # set in conftest.py
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}.png"
        driver.save_screenshot(str(path))
        print(f"screenshot of the failure: {path}")
    driver.quit()


def test_admin_edit_shows_in_the_history_and_reverts(example_site: str, browser) -> None:
    from selenium.webdriver.common.by import By

    # 1. Log into the example admin with the demo login.
    browser.get(example_site + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("revy-demo")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert browser.find_element(By.ID, "user-tools").text.upper().startswith("WELCOME")

    # 2. Edit INV-1's amount.
    browser.get(example_site + "/admin/shop/invoice/1/change/")
    amount = browser.find_element(By.NAME, "amount")
    assert amount.get_attribute("value") == "120.00"
    amount.clear()
    amount.send_keys("150.00")
    browser.find_element(By.NAME, "_save").click()
    assert "changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text

    # 3. Its history shows the change, field by field, with the user's name.
    browser.get(example_site + "/admin/shop/invoice/1/history/")
    newest = browser.find_elements(By.CSS_SELECTOR, "tr.revy-version")[0]
    assert newest.find_element(By.CSS_SELECTOR, ".revy-actor").text == "admin"
    field = newest.find_element(By.CSS_SELECTOR, "tr.revy-field-amount")
    assert field.find_element(By.TAG_NAME, "th").text == "Amount"
    assert field.find_element(By.CSS_SELECTOR, ".revy-old").text == "120.00"
    assert field.find_element(By.CSS_SELECTOR, ".revy-new").text == "150.00"
    assert "Changed Amount." in newest.text

    # 4. Revert to the version before: a confirmation page, then the POST.
    previous = browser.find_elements(By.CSS_SELECTOR, "tr.revy-version")[1]
    previous.find_element(By.CSS_SELECTOR, "a.revy-revert").click()
    assert "150.00" in browser.find_element(By.CSS_SELECTOR, "table.revy-compare").text
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    # 5. The change form shows the old values again.
    assert "was reverted" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert browser.find_element(By.NAME, "amount").get_attribute("value") == "120.00"
