"""Swagger UI at /api/v1/docs in a real headless Chromium (Debian's chromium and
chromium-driver): it loads with no network but 127.0.0.1, lists every operation
of openapi.json, and a call made through it with a token returns data."""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlsplit

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ready  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)),
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'profile'}",
                 # No network but loopback: any other host fails to resolve.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # An explicit driver path: Selenium downloads nothing.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the page asked the network for, from the DevTools performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_swagger_ui_offline_lists_every_operation_and_calls_the_api(browser, live_api, client, catalogue, auth):
    document = client.get("/api/v1/openapi.json").get_json()
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    wait = WebDriverWait(browser, 30)

    browser.get(f"{live_api}/api/v1/docs")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(operations))
    listed = {(block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
               block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"))
              for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")}
    assert listed == operations
    assert document["info"]["title"] in browser.find_element(By.CSS_SELECTOR, ".info .title").text

    # Authorize with the access token (the bearer scheme), as a user would.
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    field = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input")))
    field.send_keys(auth["Authorization"].removeprefix("Bearer "))
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .modal-btn.auth").click()
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .btn-done").click()

    # Try it out on GET /api/v1/books, then Execute.
    block = browser.find_element(By.ID, "operations-books-books_list_books")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda d: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    limit = block.find_element(By.CSS_SELECTOR, "tr[data-param-name='limit'] input")
    limit.clear()
    limit.send_keys("3")
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait.until(lambda d: block.find_elements(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"))
    assert status[0].text.strip() == "200"
    body = json.loads(block.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text)
    assert len(body["items"]) == 3 and body["total"] == len(catalogue.listed)
    curl = block.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert "Authorization: Bearer" in curl and "limit=3" in curl

    urls = requested_urls(browser)
    assert any(url.endswith("/swagger-ui-bundle.js") for url in urls)
    assert any("/api/v1/books?" in url for url in urls)
    outside = [url for url in urls if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url).hostname != "127.0.0.1"]
    assert not outside, outside
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
