"""Chromium through Playwright, against pytest-django's live server (the browser itself:
tests/chromium.py, shared with tests/interop)."""

import pytest

# The session's one Chromium (the ``chromium`` fixture) lives in tests/chromium.py.


@pytest.fixture
def browser_page(chromium):
    """A fresh browser context per test; CSP violations and page errors are collected."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
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
    yield page
    context.close()
