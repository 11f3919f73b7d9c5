"""Chromium through Playwright, against pytest-django's live server (the browser itself:
tests/chromium.py, shared with tests/interop)."""

from pathlib import Path

import pytest

# The session's one Chromium (the ``chromium`` fixture) lives in tests/chromium.py.


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _watch(page):
    """Collect CSP violations, script errors and error responses in ``page.problems``."""
    page.problems = []
    page.on(
        "console",
        lambda msg: (
            page.problems.append(msg.text)
            if msg.type == "error" or "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on(
        "response",
        lambda response: (
            page.problems.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    return page


@pytest.fixture
def new_page(chromium, request):
    """``new_page(**context_options)``: a page in a fresh browser context (e.g.
    ``java_script_enabled=False`` or clipboard permissions). When the test fails, every page it
    opened is saved as a screenshot in test-artifacts/."""
    contexts = []

    def make(**options):
        context = chromium.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return _watch(context.new_page())

    yield make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
        for number, context in enumerate(contexts):
            for index, page in enumerate(context.pages):
                try:
                    page.screenshot(
                        path=str(ARTIFACTS / f"{name}-{number}-{index}.png"), full_page=True
                    )
                except Exception as exc:  # a crashed page: keep the other screenshots
                    print(f"screenshot of {name} failed: {exc}")
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(new_page):
    """A fresh browser context per test; CSP violations and page errors are collected."""
    return new_page()
