"""The Streamlit app: in-process with AppTest, and once in a real browser."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from imdb_sentiment.core import locations

from imdb_sentiment.inference import app, labelling

APP = Path(app.__file__)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
REVIEW = "Great wonderful film, loved the superb music. The ending was a bit dull."
HOSTILE = 'Great film <script>alert("xss")</script> <i id="injected">loved</i> it &amp; more'


@pytest.fixture
def app_env(monkeypatch, tiny_pipeline) -> dict[str, Path]:
    monkeypatch.setenv(locations.MODEL_ENV, str(tiny_pipeline["model"]))
    monkeypatch.setenv(locations.METRICS_ENV, str(tiny_pipeline["eval"]))
    return tiny_pipeline


def start_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def classify(at: AppTest, text: str) -> AppTest:
    at.text_area(key=app.REVIEW_KEY).input(text)
    next(b for b in at.button if b.label == "Classify").click().run()
    assert not at.exception, at.exception
    return at


def test_classify_shows_label_and_probability(app_env, tiny_model):
    at = classify(start_app(), REVIEW)
    result = labelling.score_texts(tiny_model, [REVIEW])[0]
    headings = [h.value for h in at.main.subheader]
    assert any(h.endswith(result.label.capitalize()) for h in headings), headings
    (bar,) = at.main.get("progress")
    assert bar.value == int(result.probability * 100)
    assert bar.text == f"P(positive) = {result.probability:.3f}"
    highlighted = next(m.value for m in at.main.markdown if "<span" in m.value)
    assert highlighted.count("<span") == len(REVIEW.split())


def test_sidebar_shows_metrics_and_params(app_env):
    at = start_app()
    metrics = json.loads(app_env["eval"].read_text())
    shown = {m.label: m.value for m in at.sidebar.metric}
    assert shown["accuracy"] == f"{metrics['accuracy']:.4f}"
    assert [e.label for e in at.sidebar.expander] == ["All metrics", "Training parameters"]


def test_review_markup_is_escaped(app_env):
    at = classify(start_app(), HOSTILE)
    highlighted = next(m.value for m in at.main.markdown if "<span" in m.value)
    assert "<script" not in highlighted and "<i " not in highlighted
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in highlighted
    assert "&amp;amp;" in highlighted  # an entity in the review is shown literally


def test_example_button_fills_the_text_area(app_env):
    at = start_app()
    name, text = next(iter(app.EXAMPLES.items()))
    next(b for b in at.button if b.label == name).click().run()
    assert at.text_area(key=app.REVIEW_KEY).value == text


def test_empty_review_is_refused(app_env):
    at = classify(start_app(), "   ")
    assert "empty review" in at.main.warning[0].value
    assert not at.main.get("progress")


def test_missing_model_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv(locations.MODEL_ENV, str(tmp_path / "missing.keras"))
    monkeypatch.setenv(locations.METRICS_ENV, str(tmp_path / "missing.json"))
    at = start_app()
    assert "Model file not found" in at.error[0].value
    assert not [b for b in at.button if b.label == "Classify"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Poll Streamlit's health endpoint until it answers or the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"streamlit exited with {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise AssertionError(f"streamlit did not become healthy within {timeout}s")


def stop(process: subprocess.Popen) -> None:
    """End the streamlit process group we started (it may have children)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.mark.slow
def test_real_browser(tiny_pipeline, tiny_model, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, locations.MODEL_ENV: str(tiny_pipeline["model"]),
           locations.METRICS_ENV: str(tiny_pipeline["eval"]), "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = open(tmp_path / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    expected = labelling.score_texts(tiny_model, [HOSTILE])[0]
    try:
        wait_healthy(url, process, timeout=60)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                         timeout=60_000)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(60_000)
                page.goto(url, timeout=60_000)
                review = page.get_by_role("textbox", name="Review", exact=True)
                review.fill(HOSTILE)
                review.press("Control+Enter")  # commit the text before clicking
                page.get_by_role("button", name="Classify").click()
                label = page.get_by_role("heading", name=re.compile(r"(Positive|Negative)$"))
                expect(label).to_have_text(re.compile(expected.label.capitalize()),
                                           timeout=90_000)
                expect(page.get_by_text(f"P(positive) = {expected.probability:.3f}")
                       ).to_be_visible()
                # The review's markup shows as text in the highlight and never becomes elements.
                highlight = page.get_by_test_id("stMarkdownContainer").locator("span")
                expect(highlight.filter(has_text='<script>alert("xss")</script>')).to_be_visible()
                assert page.locator("#injected").count() == 0
                # The last element of a finished run; until then the page is mid-render.
                expect(page.get_by_text("Most influential words")).to_be_visible()
                page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
            finally:
                browser.close()
    finally:
        stop(process)
        log.close()
    assert (tmp_path / "app.png").stat().st_size > 10_000
