"""The console in a real browser: headless Chromium driven by Selenium.

Debian's `chromium` and `chromium-driver` (.ci/run installs them); skipped only where
they are absent. Screenshots of the pages go to docs/ for the README.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reactor.support.console_auth import hash_password
from tests.fakes import FakeSendGrid, FakeTwilio, Reply
from tests.helpers import PHONE, ROOT, ReactorProcess, insert_invoices, query, wait_until

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "correct horse battery staple"
EMAIL = "controller@acme.example"
HOSTILE = "<img src=x onerror=alert(1)>"
DOCS = ROOT / "docs"

if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402 (only with a browser to drive)
from selenium.common.exceptions import (  # noqa: E402
    NoAlertPresentException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _env(reactor_env: dict[str, str], recipients: str = EMAIL) -> dict[str, str]:
    return {
        **reactor_env,
        "NOTIFICATION_RECIPIENTS": recipients,
        "CONSOLE_USERS": f"alice:{hash_password(PASSWORD)}",
        "CONSOLE_SECRET_KEY": "browser-test-secret-" + "y" * 40,
        "RETRY_BASE_SECONDS": "3600",
    }


@pytest.fixture
def console(reactor_env: dict[str, str], tmp_path: Path) -> Iterator[ReactorProcess]:
    process = ReactorProcess(_env(reactor_env), tmp_path / "reactor.log").start()
    yield process
    process.stop()


def _sign_in(browser: webdriver.Chrome, console: ReactorProcess) -> None:
    browser.get(console.base_url + "/console/deliveries")
    assert "/console/login" in browser.current_url
    browser.find_element(By.NAME, "user").send_keys("alice")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    _submit(browser, By.CSS_SELECTOR, "form.login button")
    assert browser.current_url.endswith("/console/deliveries")


def _submit(browser: webdriver.Chrome, by: str, selector: str) -> None:
    """Click a form's button and wait until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, selector).click()
    WebDriverWait(browser, 15).until(lambda _: _is_gone(page))


def _is_gone(element: WebElement) -> bool:
    """True once the element's document is gone. Chromium sometimes says so with an
    "unhandled inspector error" (node not in the document) instead of a stale reference."""
    try:
        element.is_enabled()
    except (StaleElementReferenceException, WebDriverException):
        return True
    return False


def _no_alert(browser: webdriver.Chrome) -> bool:
    try:
        browser.switch_to.alert  # noqa: B018 (raises when there is none)
    except NoAlertPresentException:
        return True
    return False


def test_sign_in_see_a_flipped_invoice_retry_a_failure_and_hostile_text_stays_text(
    browser: webdriver.Chrome,
    console: ReactorProcess,
    database_url: str,
    sendgrid: FakeSendGrid,
) -> None:
    _sign_in(browser, console)
    # 1. an invoice flipped to review appears on the deliveries page
    (calm,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW", vendor="Acme Ltd")
    sendgrid.wait_for(1)
    browser.get(console.base_url + "/console/deliveries")
    assert calm in browser.find_element(By.CSS_SELECTOR, "table.deliveries").text
    # 2. a failed delivery (the provider answers 400) appears under failures; retry
    sendgrid.fail_recipient(EMAIL, Reply(status=400))
    (hostile,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW", vendor=HOSTILE)
    status = "SELECT status FROM notifications WHERE invoice_id = %s"
    wait_until(lambda: query(database_url, status, (hostile,)) == [("FAILED",)], what="FAILED")
    browser.get(console.base_url + "/console/failures")
    assert "SendGrid 400" in browser.page_source
    sendgrid.fail_recipient(EMAIL, None)
    _submit(browser, By.CSS_SELECTOR, "button[id^='retry-']")
    assert "Retry 1 delivery?" in browser.find_element(By.TAG_NAME, "h1").text
    _submit(browser, By.ID, "confirm")
    wait_until(lambda: query(database_url, status, (hostile,)) == [("SENT",)], what="sent")
    # 3. the hostile vendor is shown as text: no dialog, no element
    browser.get(console.base_url + f"/console/invoices/{hostile}")
    vendor = browser.find_element(By.CSS_SELECTOR, "td.vendor")
    assert vendor.text == HOSTILE
    assert browser.find_elements(By.CSS_SELECTOR, "td.vendor img") == []
    assert _no_alert(browser)
    DOCS.mkdir(exist_ok=True)
    browser.save_screenshot(str(DOCS / "console-invoice.png"))
    browser.get(console.base_url + "/console/deliveries")
    assert _no_alert(browser)
    browser.save_screenshot(str(DOCS / "console-deliveries.png"))
    browser.get(console.base_url + "/console/")
    assert browser.find_elements(By.CSS_SELECTOR, ".chart svg rect")
    browser.save_screenshot(str(DOCS / "console-overview.png"))


def test_pausing_a_channel_stops_every_reactor_sending_on_it_until_resumed(
    browser: webdriver.Chrome,
    reactor_env: dict[str, str],
    database_url: str,
    sendgrid: FakeSendGrid,
    twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    env = _env(reactor_env, f"{EMAIL},{PHONE}")
    first = ReactorProcess(env, tmp_path / "first.log").start()
    second = ReactorProcess({**env, "CONSOLE_USERS": ""}, tmp_path / "second.log").start()
    try:
        _sign_in(browser, first)
        browser.get(first.base_url + "/console/")
        _submit(browser, By.ID, "pause-email")
        assert "paused by alice" in browser.find_element(By.ID, "channel-email").text
        for process in (first, second):
            wait_until(
                lambda p=process: (
                    p.get("/health/status").json()["transports"]["email"]["paused_by_operator"]
                    == "alice"
                ),
                what="every reactor sees the pause",
            )
        (invoice,) = insert_invoices(database_url, 1, status="NEEDS_REVIEW")
        twilio.wait_for(1)  # SMS is not paused: the invoice went through the pipeline
        email = "SELECT status FROM notifications WHERE method = 'email'"
        assert query(database_url, email) == [("PENDING",)]
        assert sendgrid.accepted() == []
        _submit(browser, By.ID, "resume-email")
        (sent,) = sendgrid.wait_for(1)
        assert invoice in str(sent.data)
        wait_until(lambda: query(database_url, email) == [("SENT",)], what="recorded")
    finally:
        second.stop()
        first.stop()
