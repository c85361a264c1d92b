"""Swagger UI at /api/v1/docs in a real headless Chromium (Debian's chromium and
chromium-driver): it loads with no network but 127.0.0.1, lists every operation
of openapi.json, and a call made through it with a token returns data."""

from __future__ import annotations

import json

import pytest

from tests.api.browser import chromium, console_errors, needs_chromium, outside, requested_urls

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ready  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = needs_chromium


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "profile")
    yield driver
    driver.quit()


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
    assert not outside(urls), outside(urls)
    assert not console_errors(browser)
