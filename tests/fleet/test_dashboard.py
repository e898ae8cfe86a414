"""The dashboard in a real headless Chromium: the overview lists the fleet, a twin's page
updates live while its plant data flows, a stopped twin shows as stopped without a reload,
and nothing is fetched from outside the service."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import sync_playwright
from support.fleet_service import TOKEN, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


def test_overview_and_twin_page_update_live(service, browser, tmp_path):
    client, _, _ = service
    base = str(client.base_url).rstrip("/")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    outside = []
    page.on("request", lambda r: r.url.startswith(base) or outside.append(r.url))

    page.goto(f"{base}/")
    page.wait_for_selector("tr[data-twin='TK-BROKEN']", timeout=20_000)
    rows = page.locator("#fleet tbody tr")
    assert rows.count() == 4
    assert {rows.nth(i).get_attribute("data-twin") for i in range(4)} == {
        "TK-1",
        "TK-2",
        "TK-3",
        "TK-BROKEN",
    }
    page.wait_for_function(
        "document.querySelector(\"tr[data-twin='TK-2'] .lifecycle\").innerText === 'running'",
        timeout=30_000,
    )
    page.select_option("#site", "south")
    assert page.locator("#fleet tbody tr").count() == 1
    page.select_option("#site", "")
    page.screenshot(path=tmp_path / "overview.png")

    # stopping a twin through the API shows on the open page, with no reload
    response = client.post("/api/v1/twins/TK-1/stop", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    page.wait_for_function(
        "document.querySelector(\"tr[data-twin='TK-1'] .lifecycle\").innerText === 'stopped'",
        timeout=10_000,
    )

    twin = browser.new_page(viewport={"width": 1280, "height": 900})
    twin.on("request", lambda r: r.url.startswith(base) or outside.append(r.url))
    twin.goto(f"{base}/twins/TK-2")
    twin.wait_for_function(
        "document.querySelector('#estimate-plot').data"
        " && document.querySelector('#estimate-plot').data.length >= 4",
        timeout=20_000,
    )
    points = lambda: twin.evaluate(  # noqa: E731
        "document.querySelector('#estimate-plot').data[2].x.length"
    )
    first = points()
    wait_for(lambda: points() > first + 1, 10, "the estimate plot to grow while the plant runs")
    assert twin.locator("#lifecycle").inner_text() == "running"
    assert "first estimate" in twin.locator("#events").inner_text()
    twin.screenshot(path=tmp_path / "twin.png")
    assert outside == []


def test_a_failing_twin_says_why(service, browser):
    client, _, _ = service
    base = str(client.base_url).rstrip("/")
    wait_for(
        lambda: client.get("/api/v1/twins/TK-BROKEN").json()["failures"] >= 1,
        20,
        "the broken twin to fail",
    )
    page = browser.new_page()
    page.goto(f"{base}/")
    page.wait_for_function(
        "document.querySelector(\"tr[data-twin='TK-BROKEN'] .health\")?.innerText === 'failed'",
        timeout=10_000,
    )
    title = page.locator("tr[data-twin='TK-BROKEN'] .health").get_attribute("title")
    assert "no-such-file.csv" in title
    page.goto(f"{base}/twins/TK-BROKEN")
    page.wait_for_function(
        "document.querySelector('#updated').innerText.includes('no-such-file.csv')", timeout=10_000
    )
    assert page.locator("#health").inner_text() == "failed"
    assert "no remaining-life estimate yet" in page.locator("#rul-plot").inner_text()
