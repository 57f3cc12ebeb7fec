"""The studio in a real browser: headless Chromium against ``emailactions --conf examples/conf serve``.

One server and one browser for the module. The server runs the example conf
folder as a new user would (its ``emailactions-server.toml`` has the
``studio`` user), with only the SMTP relay pointed at an aiosmtpd sink.
With ``EMAILACTIONS_SCREENSHOTS=1`` the tests write docs/studio/*.png.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support.browser import Watcher, chromium
from support.smtp_server import SMTPServer, free_port

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_CONF = ROOT / "examples" / "conf"
#: The demo user of examples/conf/emailactions-server.toml (documented in docs/studio.md).
USER, PASSWORD = "studio", "studio-demo"
SHOTS = ROOT / "docs" / "studio" if os.environ.get("EMAILACTIONS_SCREENSHOTS") == "1" else None


@pytest.fixture(scope="module")
def sink() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served(sink, tmp_path_factory) -> Iterator[Any]:
    """``emailactions --conf <a copy of examples/conf> serve`` on a free loopback port, stopped by its pid."""
    folder = tmp_path_factory.mktemp("studio")
    conf = Path(shutil.copytree(EXAMPLE_CONF, folder / "conf"))
    settings = json.loads((conf / "external.email.json").read_text())
    (conf / "external.email.json").write_text(json.dumps({**settings, "host": "127.0.0.1", "port": sink.port}))
    port = free_port()
    log = folder / "serve.log"
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "emailactions", "--conf", str(conf), "serve", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/studio/login", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"emailactions serve did not start: {log.read_text()}")
        time.sleep(0.05)
    served = type("Served", (), {"url": url, "conf": conf, "log": log})()
    yield served
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(served) -> Iterator[Any]:
    driver, profile = chromium()
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver: Any, until: Any, timeout: float = 10) -> Any:
    # The live preview replaces nodes as it re-renders: an element found a moment
    # ago may be gone by the time it is read; look again rather than fail.
    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: until(d)
    )


def shot(driver: Any, name: str) -> None:
    """docs/studio/NAME.png of the whole page, when EMAILACTIONS_SCREENSHOTS=1."""
    if SHOTS is None:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], max(700, min(height + 140, 2400)))
    try:
        driver.save_screenshot(str(SHOTS / f"{name}.png"))
    finally:
        driver.set_window_size(size["width"], size["height"])


def text_of(driver: Any, selector: str) -> str:
    """The element's text, read again if the page replaced it meanwhile."""
    for _ in range(5):
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        try:
            return found[0].text if found else ""
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{selector} kept being replaced while read")


def set_field(driver: Any, element_id: str, value: str) -> None:
    """Replace a field's text the way typing would (an ``input`` event for the live preview)."""
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def in_preview(driver: Any, read: Any) -> Any:
    """``read(driver)`` inside the current preview iframe (found afresh: each render replaces it)."""
    try:
        driver.switch_to.frame(driver.find_element(By.ID, "preview-frame"))
        return read(driver)
    except (NoSuchElementException, StaleElementReferenceException):
        return None
    finally:
        driver.switch_to.default_content()


def open_editor(driver: Any, served: Any, template: str = "welcome", locale: str = "fr") -> None:
    driver.get(f"{served.url}/studio/templates/{template}?locale={locale}")
    wait(driver, lambda d: d.find_elements(By.ID, "draft"))


@pytest.fixture
def studio(browser, served) -> Any:
    """The browser, logged in as the example conf's studio user."""
    browser.get(served.url + "/studio/templates")
    if "/studio/login" in browser.current_url:
        set_field(browser, "username", USER)
        set_field(browser, "password", PASSWORD)
        browser.find_element(By.ID, "login").click()
        wait(browser, lambda d: d.find_elements(By.ID, "templates"))
    return browser


def test_a_missing_browser_fails_the_tests_clearly(monkeypatch, tmp_path):
    import support.browser

    monkeypatch.setattr(support.browser, "CHROMEDRIVER", str(tmp_path / "chromedriver"))
    with pytest.raises(pytest.fail.Exception, match="chromedriver is missing: install Debian's chromium-driver"):
        chromium()


def test_login(browser, served):
    browser.get(served.url + "/studio")
    wait(browser, lambda d: "/studio/login" in d.current_url)
    set_field(browser, "username", USER)
    set_field(browser, "password", "not-the-password")
    browser.find_element(By.ID, "login").click()
    assert "Wrong user name or password" in wait(browser, lambda d: text_of(d, "#login-error"))
    shot(browser, "login")
    set_field(browser, "password", PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait(browser, lambda d: d.find_elements(By.ID, "templates"))
    rows = {row.get_attribute("data-id") for row in browser.find_elements(By.CSS_SELECTOR, "#templates tbody tr")}
    assert rows == {"hello", "welcome"}
    assert browser.get_cookie("emailactions_studio")["httpOnly"] is True
    shot(browser, "templates")


def test_editing_updates_the_preview_then_saves(studio, served):
    open_editor(studio, served)
    assert text_of(studio, "#preview-subject") == "Votre compte a été créé"
    set_field(studio, "sample", '{"userName": "ada"}')
    set_field(studio, "subject", "Bienvenue {{object.userName}} !")
    wait(studio, lambda d: text_of(d, "#preview-subject") == "Bienvenue ada !")
    set_field(studio, "html", "<h1>Bonjour {{object.userName}}</h1><p>Votre compte est prêt.</p>")
    wait(studio, lambda d: in_preview(d, lambda f: f.find_element(By.TAG_NAME, "h1").text == "Bonjour ada"))
    assert "fr → en" in text_of(studio, "#preview-locale")
    studio.find_element(By.CSS_SELECTOR, "[data-view=phone]").click()
    wait(studio, lambda d: d.find_element(By.ID, "preview-frame").size["width"] < 400)
    shot(studio, "editor-phone")
    studio.find_element(By.CSS_SELECTOR, "[data-part=text]").click()
    assert not studio.find_element(By.ID, "preview-html").is_displayed()
    assert studio.find_element(By.ID, "preview-text").is_displayed()
    studio.find_element(By.CSS_SELECTOR, "[data-view=desktop]").click()
    studio.find_element(By.CSS_SELECTOR, "[data-part=html]").click()
    set_field(studio, "text", "Bonjour {{object.userName}}, votre compte est prêt.")
    wait(studio, lambda d: d.find_element(By.ID, "preview-text-body").get_attribute("textContent") == "Bonjour ada, votre compte est prêt.")
    shot(studio, "editor")
    studio.find_element(By.ID, "save").click()
    assert wait(studio, lambda d: text_of(d, "#notice")) == "Saved."
    saved = json.loads((served.conf / "emailTemplate-welcome.json").read_text())
    assert saved["subject"]["fr"] == "Bienvenue {{object.userName}} !" and saved["subject"]["en"] == "Your account has been created"
    assert text_of(studio, "#preview-subject") == "Bienvenue ada !"  # the sample was kept with the template


def test_a_render_error_is_shown_at_its_line(studio, served):
    open_editor(studio, served)
    set_field(studio, "html", "<p>ligne un</p>\n<p>{{object.userName</p>\n")
    errors = wait(studio, lambda d: text_of(d, "#render-errors"))
    assert "html, line 2" in errors and "{{object.userName</p>" in errors
    shot(studio, "render-error")


def test_a_test_send_reaches_the_sink_and_the_outbox(studio, served, sink):
    open_editor(studio, served)
    set_field(studio, "test-to", "qa@example.com")
    studio.find_element(By.ID, "send").click()
    notice = wait(studio, lambda d: text_of(d, "#notice"))
    assert notice.startswith("Test mail to qa@example.com submitted as outbox entry")
    received = wait(studio, lambda d: [m for m in sink.messages if m.rcpt_tos == ["qa@example.com"]])
    assert received[0].message["Subject"] == "[TEST] Bienvenue ada !"
    studio.find_element(By.LINK_TEXT, "Outbox").click()
    row = wait(studio, lambda d: d.find_elements(By.CSS_SELECTOR, "#entries tr[data-state=sent]"))
    assert "qa@example.com" in row[0].text
    shot(studio, "outbox")


def test_outbox_after_a_failed_delivery_then_a_retry(studio, served, sink):
    sink.handler.rcpt_reply = lambda address: "550 5.1.1 No such mailbox" if address == "bounce@example.com" else None
    try:
        open_editor(studio, served)
        set_field(studio, "test-to", "bounce@example.com")
        studio.find_element(By.ID, "send").click()
        wait(studio, lambda d: text_of(d, "#notice"))
        studio.get(served.url + "/studio/outbox")

        def failed(d: Any) -> Any:
            rows = d.find_elements(By.CSS_SELECTOR, "#entries tr[data-state=failed]")
            if not rows:
                d.refresh()
            return rows

        row = wait(studio, failed)[0]
        assert "bounce@example.com: 550" in row.text and "No such mailbox" in row.text
        assert "failed 1" in text_of(studio, "#counts")
        shot(studio, "outbox-failed")
        sink.handler.rcpt_reply = lambda address: None
        entry = row.get_attribute("data-id")
        row.find_element(By.CSS_SELECTOR, "button.retry").click()
        assert wait(studio, lambda d: text_of(d, "#notice")) == "Retried 1 message(s)."

        def sent(d: Any) -> Any:
            rows = d.find_elements(By.CSS_SELECTOR, f"#entries tr[data-id='{entry}'][data-state=sent]")
            if not rows:
                d.refresh()
            return rows

        wait(studio, sent)
        assert [m for m in sink.messages if m.rcpt_tos == ["bounce@example.com"]]
    finally:
        sink.handler.rcpt_reply = lambda address: None


def test_a_form_without_its_csrf_token_is_refused(studio, served):
    open_editor(studio, served)
    before = (served.conf / "emailTemplate-welcome.json").read_text()
    set_field(studio, "subject", "Forged")
    studio.execute_script("document.querySelector('#draft input[name=csrf]').remove()")
    studio.find_element(By.ID, "save").click()
    message = wait(studio, lambda d: text_of(d, "#error-message"))
    assert "CSRF" in message and "Error 403" in studio.find_element(By.TAG_NAME, "h1").text
    assert (served.conf / "emailTemplate-welcome.json").read_text() == before


def test_a_script_in_the_template_does_not_run_in_the_preview(studio, served):
    watcher = Watcher().start()
    try:
        httpx.get(watcher.url + "/control")  # the watcher does record what reaches it
        assert watcher.hits == ["/control"]
        hostile = (
            f"<title>untouched</title><p id='shown'>visible</p>"
            f"<script>document.title='pwned';localStorage.setItem('pwned','1');fetch('{watcher.url}/fetch');"
            f"new Image().src='{watcher.url}/image';parent.document.title='pwned'</script>"
            f"<img src='data:,x' onerror=\"fetch('{watcher.url}/onerror')\">"
            f"<form action='{watcher.url}/form' method='post' id='auto'></form><script>document.getElementById('auto').submit()</script>"
        )
        open_editor(studio, served)
        set_field(studio, "html", hostile)
        wait(studio, lambda d: in_preview(d, lambda f: f.find_element(By.ID, "shown").text == "visible"))
        assert studio.find_element(By.ID, "preview-frame").get_attribute("sandbox") == ""
        assert in_preview(studio, lambda f: f.find_element(By.TAG_NAME, "title").get_attribute("textContent")) == "untouched"
        time.sleep(0.5)  # room for anything the script might have sent
        assert watcher.hits == ["/control"]
        assert "pwned" not in studio.title
        assert studio.execute_script("return localStorage.getItem('pwned')") is None
    finally:
        watcher.stop()
