"""The studio in a real browser: headless Chromium from the system packages, driven by Selenium.

`make test` installs Debian's chromium and chromium-driver where they are missing; the test skips
with a message only where neither could be installed. PIANOLA_SCREENSHOT=path.png makes a
second piece and saves a screenshot of the page there (the README's).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import pipeline

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="no chromium and chromedriver here (make test installs Debian's "
                                       "chromium and chromium-driver with apt-get where it can)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from web.app import create_app

    out = tmp_path_factory.mktemp("studio")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(out, pipeline.SHIPPED_GENERATOR), host="127.0.0.1", port=port,
                            log_level="warning")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started and time.monotonic() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", out
    served.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1500"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def make_piece(browser, seconds: int, mood: str = "", style: str = "") -> str:
    """Fill the form, press Generate, wait for the piece's card to be done; returns the card's id."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    before = {card.get_attribute("id") for card in browser.find_elements(By.CSS_SELECTOR, "article.card")}
    duration = browser.find_element(By.NAME, "duration")
    duration.clear()
    duration.send_keys(str(seconds))
    Select(browser.find_element(By.NAME, "mood")).select_by_value(mood)
    browser.find_element(By.NAME, "style").clear()
    browser.find_element(By.NAME, "style").send_keys(style)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def new_card(b):
        message = b.find_element(By.ID, "message").text
        assert not message, f"the page refused the piece: {message}"
        return next((c for c in b.find_elements(By.CSS_SELECTOR, "article.card")
                     if c.get_attribute("id") not in before), None)

    card = WebDriverWait(browser, 90).until(new_card)
    WebDriverWait(browser, 120).until(lambda _: card.get_attribute("data-status") in ("done", "failed"))
    assert card.get_attribute("data-status") == "done", card.text
    return card.get_attribute("id")


def test_a_piece_made_in_the_page_plays_for_its_length_and_downloads(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    address, out = server
    browser.get(address)
    WebDriverWait(browser, 20).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "select[name=format] option")))
    suggested = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#styles option")]
    assert "baroque" in suggested and "sparse" in suggested
    card_id = make_piece(browser, 10, style="baroque")
    card = browser.find_element(By.ID, card_id)
    audio = card.find_element(By.TAG_NAME, "audio")
    duration = WebDriverWait(browser, 20).until(
        lambda b: b.execute_script("const d = arguments[0].duration; return isFinite(d) && d > 0 ? d : null;", audio))
    assert abs(duration - 10) < 0.5
    link = card.find_element(By.PARTIAL_LINK_TEXT, "audio").get_attribute("href")
    with urllib.request.urlopen(link) as response:
        downloaded = response.read()
    piece_id = card_id.removeprefix("piece-")
    assert downloaded == (out / piece_id / "piece.ogg").read_bytes()
    browser.refresh()  # the history comes back with the page
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, card_id))
    screenshot = os.environ.get("PIANOLA_SCREENSHOT")
    if screenshot:
        make_piece(browser, 20, "meditation")
        browser.execute_script("window.scrollTo(0, 0)")
        time.sleep(1)
        browser.save_screenshot(str(Path(screenshot)))
