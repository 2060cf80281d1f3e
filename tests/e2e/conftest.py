"""Browser tests: real headless Chromium (Debian's, through Playwright) against the live server.

The app runs in pytest-django's `live_server` thread on the in-memory test database, so every
test here uses transactional database access (the `world` fixture picks it up from
`live_server`) and data made with the factories is visible to the server.

Playwright's sync API drives the browser from a greenlet with a running asyncio loop, which makes
Django refuse ORM calls from the test body ("async context"); nothing here is actually
concurrent with the test code, so the guard is lifted while this package's tests run. The browser
lives as long as the package too, so that tests collected after it run without a loop.

Run with:  .venv/bin/pytest -m e2e tests/e2e -q
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.factories import TEST_PASSWORD, TEST_TOTP_SECRET

CHROMIUM = os.environ.get("LIAISON_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Explicit waits only: expect() retries up to this long, no sleeps anywhere.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="package", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(_orm_beside_playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """A cache of this process only, empty for each test.

    allauth keeps used TOTP codes and rate-limit counters in the cache, keyed by user pk and IP;
    pks are reused between transactional tests, so a code from the previous test would be
    refused as already used. The configured file cache lives in the data directory, which other
    test runs may share: clearing it there could upset them, so the browser tests use their own.
    (The live server runs in a thread of this process, so it sees the same cache.)"""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "liaison-e2e",
        }
    }
    cache.clear()
    yield
    cache.clear()


class BrowserErrors:
    """JavaScript errors, console errors (CSP refusals among them) and missing static files
    (a script that 404s leaves the page half-working without any other sign) seen in a test."""

    # A 403/404 page (or 410: a used or expired confirmation link) is an expected response in
    # some tests; the browser logs it as an error. Missing static files are reported by
    # `response` below, with their address.
    IGNORED = re.compile(
        r"Failed to load resource: the server responded with a status of (40[34]|410)"
    )

    def __init__(self):
        self.errors: list[str] = []

    def response(self, response) -> None:
        if response.status >= 400 and "/static/" in response.url:
            self.errors.append(f"static file: {response.status} {response.url}")

    def request_failed(self, request) -> None:
        # Aborted: a navigation cut a pending request short (or the 404 reported above).
        if request.failure != "net::ERR_ABORTED":
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def console(self, message) -> None:
        if message.type == "error" and not self.IGNORED.search(message.text):
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def page_error(self, error) -> None:
        self.errors.append(f"page error: {error}")


@pytest.fixture
def new_page(browser: Browser, live_server) -> Iterator[Callable[..., Page]]:
    """Factory of pages, each in its own browser context (own cookies), opened on the live
    server. `new_page(phone=True)` gives a 390 x 844 touch viewport.

    At the end of the test, any JavaScript error or console error (a script or style refused by
    the Content-Security-Policy shows up there) fails the test."""
    contexts = []
    errors = BrowserErrors()

    def make(*, phone: bool = False) -> Page:
        options = {
            "base_url": live_server.url,
            "locale": "en-GB",
            "timezone_id": "Europe/Paris",
            "viewport": PHONE if phone else DESKTOP,
        }
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", errors.console)
        page.on("pageerror", errors.page_error)
        page.on("response", errors.response)
        page.on("requestfailed", errors.request_failed)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors.errors, "errors in the browser:\n" + "\n".join(errors.errors)


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.fixture
def phone_page(new_page) -> Page:
    return new_page(phone=True)


def field(name: str) -> re.Pattern:
    """A form label, with or without Django's ':' suffix, for get_by_label()."""
    return re.compile(rf"^{re.escape(name)}:?$")


def totp_code(secret: str = TEST_TOTP_SECRET) -> str:
    """The authenticator app's current code (allauth accepts one period either side)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def submit_password(page: Page, email: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


# The second-factor page, however its wording is tuned: its heading and its one code field.
SECOND_FACTOR = re.compile(r"two-factor authentication", re.IGNORECASE)
CODE_FIELD = re.compile(r"\bcode\b", re.IGNORECASE)
SIGN_IN = re.compile(r"^sign in$", re.IGNORECASE)


def enter_code(page: Page, code: str | None = None) -> None:
    """On the second-factor page: type the authenticator app's current code (or `code`)."""
    expect(page.get_by_role("heading", name=SECOND_FACTOR)).to_be_visible()
    page.get_by_label(CODE_FIELD).fill(code or totp_code())
    page.get_by_role("button", name=SIGN_IN).click()


def login(page: Page, user, secret: str = TEST_TOTP_SECRET) -> None:
    """Sign in through the real forms: e-mail and password, then the authenticator code."""
    submit_password(page, user.email)
    enter_code(page, totp_code(secret))
    expect(page.get_by_role("heading", name="Your networks")).to_be_visible()


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation['help']}"
            f"\n  {violation.get('helpUrl', '')}"
        )
        for node in violation.get("nodes", []):
            target = " ".join(str(t) for t in node.get("target", []))
            lines.append(f"    at {target}: {node.get('html', '')[:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


_axe = Axe()


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practices)."""
    return _axe.run(page).response["violations"]


def assert_accessible(page: Page, what: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core violations on {what} ({page.url}):\n" + format_violations(
        violations
    )


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
