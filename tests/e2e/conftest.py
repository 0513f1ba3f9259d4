"""Browser tests: Playwright (Python) driving Debian's Chromium against pytest-django's live_server.

Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
thread with a running loop unless told it is safe (the test thread is not serving requests).
"""
import os
import pathlib

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = pathlib.Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-results" / "e2e"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"E2E SKIPPED: {CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "E2E SKIPPED: the playwright package is not installed (pip install playwright)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _restore_seed_rows(request):
    """Transactional tests before this one flushed every table; with Playwright's event loop in
    this thread Django cannot restore the migrated rows itself, so do it here."""
    if "live_server" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db")
    from django.db import connection

    from qingting.complaints.models import IndustryProfile

    from ..conftest import SERIALIZED_DB

    if SERIALIZED_DB.get("default") and not IndustryProfile.objects.exists():
        from django.core import serializers
        from django.db import IntegrityError, transaction

        # Rows recreated after the flush (content types, permissions) are kept; the rest come back.
        with connection.constraint_checks_disabled():
            for obj in serializers.deserialize("json", SERIALIZED_DB["default"]):
                try:
                    with transaction.atomic():
                        obj.save()
                except IntegrityError:
                    pass
