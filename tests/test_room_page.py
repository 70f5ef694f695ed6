"""The live readiness page in a real browser: Debian's headless Chromium driven by Selenium
through chromium-driver. CI installs both (apt) and Selenium (requirements/browser.txt, a
dependency group no attendee installs); elsewhere the test is skipped when one is missing.

`LABKIT_SCREENSHOT=docs/room-page.png` also saves the screenshot the README shows."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from room_helpers import Server, post_report, request, running, stop_server, tiny_pack

from labkit.room.reports import file_name


def _missing(what: str) -> None:
    """Skip, except in CI, which must run this test."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing: .ci/run installs it")
    pytest.skip(
        f"{what} is missing (apt install chromium chromium-driver; pip install "
        "--require-hashes -r requirements/browser.txt)"
    )


@pytest.fixture
def browser() -> Iterator[object]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("Selenium")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        _missing("Chromium or chromium-driver")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download anything
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,900")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path: Path, real_reports: dict) -> Iterator[Server]:
    pack = tmp_path / "pack"
    tiny_pack(pack)
    with running(pack) as server:
        for name, kind in (("Grace Hopper", "plain"), ("Alan Turing", "jax"), ("Ada", "plain")):
            assert post_report(server, name, real_reports[kind])[0] == 201
        yield server


def rows(driver: object) -> list[tuple[str, str, str]]:
    from selenium.webdriver.common.by import By

    return [
        (
            row.get_attribute("data-name"),
            row.get_attribute("class"),
            row.find_element(By.CSS_SELECTOR, ".badge").text,
        )
        for row in driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")
    ]


def test_the_page_lists_attendees_marks_the_not_ready_and_refreshes_itself(
    browser: object, server: Server, real_reports: dict, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.page)
    assert browser.title == "Workshop readiness"
    shown = rows(browser)
    plain = "READY" if real_reports["plain"]["ok"] else "NOT READY"
    assert ("Alan Turing", "not-ready", "NOT READY") in shown
    assert shown[0][0] == "Alan Turing"  # problems first
    assert {name for name, _, _ in shown} == {"Grace Hopper", "Alan Turing", "Ada"}
    assert all(badge == plain for name, _, badge in shown if name != "Alan Turing")
    alan = browser.find_element(By.CSS_SELECTOR, 'tr[data-name="Alan Turing"]')
    assert "jax" in alan.text and "fix:" in alan.text
    not_ready = 1 if real_reports["plain"]["ok"] else 3
    summary = browser.find_element(By.CSS_SELECTOR, ".summary").text
    assert summary == f"3 attendees: {not_ready} NOT READY, {3 - not_ready} READY"
    png = tmp_path / "page.png"
    browser.save_screenshot(str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("LABKIT_SCREENSHOT"):
        shutil.copyfile(png, os.environ["LABKIT_SCREENSHOT"])

    # A report that arrives later shows up without reloading the page, its content as text.
    hostile = {**real_reports["jax"]}
    hostile["diagnosis"] = [
        {"level": "FAIL", "message": "<img src=x onerror=window.pwned=1> broken", "fix": "<b>x</b>"}
    ]
    assert post_report(server, "Late Comer", hostile)[0] == 201
    WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-name="Late Comer"]')
    )
    late = browser.find_element(By.CSS_SELECTOR, 'tr[data-name="Late Comer"]')
    assert "NOT READY" in late.text and "<img src=x onerror=window.pwned=1> broken" in late.text
    assert browser.execute_script("return window.pwned") is None
    assert browser.find_element(By.ID, "status").text.startswith("Updated")


def test_the_page_is_right_after_hostile_posts(
    browser: object, server: Server, real_reports: dict
) -> None:
    """Posts that once took the page down or replaced a report, and a stored file spoiled by
    hand: the page keeps its three rows, says that one file was set aside, and refreshes."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.page)
    before = rows(browser)
    plain = real_reports["plain"]
    hostile = [
        post_report(server, "Mallory", {**plain, "versions": "boom"}),
        post_report(server, "Mallory", {**plain, "driver": {"gpus": "A100"}}),
        post_report(server, " GRACE  hopper", {**real_reports["jax"]}, kit="m" * 32),
        post_report(server, "Ada", {**plain, "ok": not plain["ok"]}, code="guess"),
        post_report(server, "<img src=x onerror=window.pwned=1>", plain),
    ]
    assert [status for status, _ in hostile] == [400, 400, 409, 403, 400]
    deep = {"Content-Type": "application/json"}
    assert request(server, "POST", server.at("report"), b"[" * 100_000, deep)[0] == 400
    plain_text = {"Content-Type": "text/plain"}
    form = json.dumps({"name": "Form", "kit": "f" * 32, "report": plain}).encode()
    assert request(server, "POST", server.at("report"), form, plain_text)[0] == 415
    spoiled = server.pack / "reports" / file_name("Spoiled")
    spoiled.write_text('{"name": "Spoiled", "report": {"ok": true, "versions": "boom"}}')

    WebDriverWait(browser, 20).until(
        lambda d: "1 report set aside" in d.find_element(By.ID, "board").text
    )
    assert rows(browser) == before
    assert browser.execute_script("return window.pwned") is None
    assert browser.find_element(By.ID, "status").text.startswith("Updated")
    summary = browser.find_element(By.CSS_SELECTOR, ".summary").text
    assert summary.startswith("3 attendees: ")


def test_the_page_says_when_the_server_is_gone(browser: object, server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.page)
    stop_server(server)
    status = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#status.stale")
    )
    assert "Cannot reach the server" in status.text
    assert len(rows(browser)) == 3  # the last board stays on screen
