"""Debian's headless Chromium driven by Playwright, for the Temporal Web UI test and
`make screenshots`. Playwright's own browser download needs internet access our machines lack,
so `make test` installs Debian's `chromium` package (Makefile target `chromium`)."""

import json
import os
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium waits on refused connections to Google's
# services (there is no internet here) and pages hang.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = ViewportSize(width=1280, height=800)
NAMESPACE = "default"
TIMEOUT_MS = 20_000  # generous: 2 cores, shared with other test runs

# Also for `expect(...)` assertions (Playwright's default is 5 s).
expect.set_options(timeout=TIMEOUT_MS)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        raise FileNotFoundError(f"{CHROMIUM} is missing; `make chromium` installs it")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def new_page(
    browser: Browser, timeout_ms: float = TIMEOUT_MS, local_storage: dict[str, str] | None = None
) -> AsyncIterator[Page]:
    """`local_storage`: set before the UI's scripts run (e.g. its browser-level codec settings)."""
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout_ms)
    if local_storage:
        items = json.dumps(local_storage)
        await context.add_init_script(
            f"for (const [k, v] of Object.entries({items})) localStorage.setItem(k, v);"
        )
    try:
        yield await context.new_page()
    finally:
        await context.close()


def workflows_url(ui_url: str, query: str) -> str:
    """The Web UI's workflow list filtered by a visibility query, as ops would bookmark it."""
    return f"{ui_url}/namespaces/{NAMESPACE}/workflows?query={urllib.parse.quote(query)}"


def workflow_url(ui_url: str, workflow_id: str) -> str:
    """One workflow's page: the UI redirects to its latest run's timeline."""
    return f"{ui_url}/namespaces/{NAMESPACE}/workflows/{urllib.parse.quote(workflow_id)}"


# The UI's own test ids (Temporal UI 2.5x).
ROW = '[data-testid="workflows-summary-configurable-table-row"]'
# The User Metadata tab renders the static summary and the current details in iframes.
SUMMARY_FRAME = "#user-metadata-summary"
CURRENT_DETAILS_FRAME = "#user-metadata-current-details"
