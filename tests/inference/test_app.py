"""The Streamlit app: in-process with AppTest, and once in a real browser."""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from imdb_sentiment.core import locations
from imdb_sentiment.inference import app, labelling

APP = Path(app.__file__)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REVIEW = "Great wonderful film, loved the superb music. The ending was a bit dull."
HOSTILE = 'Great film <script>alert("xss")</script> <i id="injected">loved</i> it &amp; more'
IMAGE = "![x](http://example.invalid/a.png)"
HOSTILE_MARKDOWN = (
    f"Great film {IMAGE} loved <img src=http://example.invalid/b.png> it "
    "[link](javascript:alert(1)) :red[x] $x^2$ **bold** `code`"
)
# Elements that show their text as typed: everything else renders Markdown (or HTML)
LITERAL = {"text_area", "dataframe", "code", "text", "json"}
TF_LOG_LINE = re.compile(r"cuda|absl|I0000|E0000|W0000|oneDNN", re.IGNORECASE)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_lock(root: Path, model_md5: str) -> None:
    """A dvc.lock whose evaluate stage scored a model of `model_md5` into metrics/eval.json."""
    metrics = root / "metrics" / "eval.json"
    stage = {
        "cmd": "python -m imdb_sentiment.pipeline evaluate",
        "deps": [{"path": "models/model.keras", "hash": "md5", "md5": model_md5}],
        "outs": [{"path": "metrics/eval.json", "hash": "md5", "md5": md5(metrics)}],
    }
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"evaluate": stage}}))


@pytest.fixture
def project(tmp_path, tiny_pipeline) -> Path:
    """A project folder with the tiny model, its params and test metrics, and a dvc.lock
    recording that the evaluate stage scored this model into these metrics."""
    for name in ("models/model.keras", "models/model.params.json", "metrics/eval.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_pipeline["root"] / name, tmp_path / name)
    write_lock(tmp_path, md5(tmp_path / "models" / "model.keras"))
    return tmp_path


@pytest.fixture
def app_env(monkeypatch, project) -> Path:
    monkeypatch.setenv(locations.MODEL_ENV, str(project / "models" / "model.keras"))
    monkeypatch.setenv(locations.METRICS_ENV, str(project / "metrics" / "eval.json"))
    return project


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


def elements(node):
    """`node` and every element inside it."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from elements(child)


def rendered_markup(at: AppTest) -> list[str]:
    """What the app hands the browser as Markdown or HTML: every element but the literal ones."""
    return [
        repr(node.proto)
        for root in (at.main, at.sidebar)
        for node in elements(root)
        if getattr(node, "proto", None) is not None and node.type not in LITERAL
    ]


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


def test_sidebar_shows_metrics_and_params_of_the_loaded_model(app_env):
    at = start_app()
    metrics = json.loads((app_env / "metrics" / "eval.json").read_text())
    shown = {m.label: m.value for m in at.sidebar.metric}
    assert shown["accuracy"] == f"{metrics['accuracy']:.4f}"
    assert [e.label for e in at.sidebar.expander] == ["All metrics", "Training parameters"]


def test_sidebar_hides_metrics_another_model_scored(app_env):
    write_lock(app_env, "0" * 32)  # evaluate scored some other model file
    at = start_app()
    assert not at.sidebar.metric
    assert [e.label for e in at.sidebar.expander] == ["Training parameters"]
    assert any("Test metrics not shown" in c.value for c in at.sidebar.caption)


def test_sidebar_hides_metrics_changed_since_or_without_a_lock(app_env):
    metrics = app_env / "metrics" / "eval.json"
    metrics.write_text(metrics.read_text().replace("{", '{"edited": 1, ', 1))
    assert not start_app().sidebar.metric  # not the file evaluate wrote
    (app_env / "dvc.lock").unlink()
    at = start_app()
    assert not at.sidebar.metric
    assert any("Test metrics not shown" in c.value for c in at.sidebar.caption)


def test_review_markup_is_escaped(app_env):
    at = classify(start_app(), HOSTILE)
    highlighted = next(m.value for m in at.main.markdown if "<span" in m.value)
    assert "<script" not in highlighted and "<i " not in highlighted
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in highlighted
    assert "&amp;amp;" in highlighted  # an entity in the review is shown literally


def test_review_is_never_rendered_as_markdown_or_html(app_env):
    at = classify(start_app(), HOSTILE_MARKDOWN)
    assert at.main.get("progress")  # classified, and its words shown
    rendered = rendered_markup(at)
    assert len(rendered) > 5
    for text in rendered:
        assert "<img" not in text.lower() and "![" not in text and "](" not in text, text
        assert ":red[" not in text and "$x^2$" not in text and "**bold**" not in text, text


def test_highlight_html_escapes_hostile_words():
    words = [
        "<script>alert(1)</script>",
        IMAGE,
        "&",
        '"q"',
        "it's",
        "[a](b)",
        ":red[x]",
        "$x$",
        "*em*",
        "`c`",
        "a|b",
        "\\",
    ]
    importance = labelling.Importance(words, [0.1] * len(words), 0.5, truncated=False)
    shown = labelling.highlight_html(importance)
    assert shown.count("<span") == shown.count("</span>") == len(words)
    for markup in ("<script", "![", "](", "[a]", ":red[", "$x$", "*em*", "`c`", "|", "\\"):
        assert markup not in shown, markup
    inner = re.findall(r">([^<]*)</span>", shown)
    assert [html.unescape(w) for w in inner] == words  # shown exactly as typed
    assert "&amp;" in shown and "&quot;q&quot;" in shown


def test_example_button_classifies(app_env, tiny_model):
    at = start_app()
    name, text = next(iter(app.EXAMPLES.items()))
    next(b for b in at.button if b.label == name).click().run()
    assert not at.exception, at.exception
    assert at.text_area(key=app.REVIEW_KEY).value == text
    result = labelling.score_texts(tiny_model, [text])[0]
    (bar,) = at.main.get("progress")
    assert bar.text == f"P(positive) = {result.probability:.3f}"
    at.run()  # a later rerun (another widget) does not classify again by itself
    assert not at.main.get("progress")


def test_review_length_is_bounded(app_env, tiny_model, monkeypatch):
    at = start_app()
    box = at.text_area(key=app.REVIEW_KEY)
    assert box.max_chars == app.MAX_REVIEW_CHARS
    seen = []
    monkeypatch.setattr(
        labelling,
        "word_importance",
        lambda model, text: seen.append(text) or labelling.Importance([], [], 0.5, truncated=False),
    )
    box.set_value("great " * 10_000)  # 60,000 characters, as a client past the browser's limit
    next(b for b in at.button if b.label == "Classify").click().run()
    assert not at.exception, at.exception
    assert [len(text) for text in seen] == [app.MAX_REVIEW_CHARS]


def test_app_says_which_words_the_model_did_not_read(app_env, tiny_model):
    max_len, keep = labelling.reading_window(tiny_model)
    assert keep == "last"
    at = classify(start_app(), " ".join(["boring"] * 20 + ["great"] * max_len))
    highlighted = next(m.value for m in at.main.markdown if "<span" in m.value)
    assert highlighted.count("<span") == max_len and "boring" not in highlighted
    assert any("the first 20 words were not read" in c.value for c in at.main.caption)


def test_word_importance_reads_the_tokens_the_model_reads(tiny_model):
    max_len, keep = labelling.reading_window(tiny_model)
    assert keep == "last"
    words = ["awful"] * 10 + [f"great{i}," for i in range(max_len - 1)] + ["<br", "/>", "film"]
    text = " ".join(words)
    importance = labelling.word_importance(tiny_model, text)
    assert importance.words == words[10:] and importance.unread_words == 10
    assert importance.truncated and importance.max_len == max_len
    # the analysed words are what the model reads of the whole text: same probability
    assert importance.baseline == pytest.approx(
        labelling.probabilities(tiny_model, [text])[0], abs=1e-6
    )
    assert importance.deltas[-3:-1] == [0.0, 0.0]  # markup: no token, no effect


def test_word_importance_is_bounded_for_any_text(tiny_model, monkeypatch):
    calls: list[list[int]] = []  # the length of each text scored, per call

    def fake_probabilities(model, texts, batch_size=256, progress=None):
        calls.append([len(t) for t in texts])
        return labelling.np.zeros(len(texts), dtype="float32")

    monkeypatch.setattr(labelling, "probabilities", fake_probabilities)
    pastes = [
        "great film " * 150_000 + "x" * 1_000_000,  # 3 MB each
        " ".join(["great," * 25_000] * 20),  # few words, each long
        "great " * 500_000,
    ]
    for text in pastes:
        calls.clear()
        importance = labelling.word_importance(tiny_model, text, max_words=50)
        assert max(n for c in calls for n in c) <= 20_000  # characters per text
        assert max(len(c) for c in calls) <= 256  # texts per call
        assert sum(len(c) for c in calls) <= 50 + 1  # variants and the baseline
        assert len(importance.words) <= 50 and importance.truncated


def test_read_count_keeps_the_words_up_to_max_len_tokens():
    tokens = labelling.np.array([1, 0, 2, 1, 1])
    assert labelling.read_count(tokens, 3, 10) == 3  # 1 + 2 tokens, the markup between kept
    assert labelling.read_count(tokens, None, 2) == 3  # two words with tokens
    assert labelling.read_count(tokens, 100, 100) == 5
    assert labelling.read_count(labelling.np.array([0, 0]), 3, 3) == 2


def test_empty_review_is_refused(app_env):
    at = classify(start_app(), "   ")
    assert "empty review" in at.main.warning[0].value
    assert not at.main.get("progress")


@pytest.fixture
def nan_model_env(app_env, tiny_pipeline) -> Path:
    """app_env with a model whose output layer's bias is NaN: it scores every review NaN."""
    import keras
    import numpy as np

    from imdb_sentiment.inference.scoring import load_model

    model = load_model(tiny_pipeline["model"])
    dense = [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.Dense)
    ][-1]
    *weights, bias = dense.get_weights()
    dense.set_weights([*weights, np.full_like(bias, np.nan)])
    model.save(app_env / "models" / "model.keras")
    return app_env


def shown_errors(at: AppTest) -> list[str]:
    """The page's error lines as the reader sees them (entities decoded)."""
    return [html.unescape(e.value) for e in at.main.error]


def test_model_returning_nan_is_one_line_and_the_app_stays_usable(nan_model_env):
    at = classify(start_app(), "good film")  # no uncaught exception: no traceback anywhere
    (error,) = shown_errors(at)
    assert error.startswith("Cannot classify: the model returned values outside [0, 1]")
    assert "\n" not in error and "Traceback" not in error
    assert not at.main.get("progress") and not at.main.subheader
    classify(at, "a second review, after the first failed")
    assert len(shown_errors(at)) == 1  # this run's error only
    name = next(iter(app.EXAMPLES))
    next(b for b in at.button if b.label == name).click().run()  # an example scores too
    assert not at.exception, at.exception
    assert [e.startswith("Cannot classify:") for e in shown_errors(at)] == [True]


def test_failed_word_importance_keeps_the_label(app_env, monkeypatch):
    def fail(model, text):
        # as TensorFlow's errors do: a first line, then the graph's nodes
        raise RuntimeError(f"cannot score {HOSTILE_MARKDOWN}\n  node stack: bigru/dense")

    monkeypatch.setattr(labelling, "word_importance", fail)
    at = classify(start_app(), REVIEW)
    assert at.main.get("progress") and at.main.subheader  # the label and probability stay
    (error,) = shown_errors(at)
    assert error == f"Cannot measure word importance: RuntimeError: cannot score {HOSTILE_MARKDOWN}"
    for text in rendered_markup(at):  # the message quotes the review: shown as text
        assert "<img" not in text.lower() and "![" not in text and "](" not in text, text
        assert ":red[" not in text and "$x^2$" not in text and "**bold**" not in text, text


def test_any_error_in_scoring_is_one_line(app_env, monkeypatch):
    def fail(model, texts, *args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(labelling, "score_texts", fail)
    at = classify(start_app(), REVIEW)
    assert shown_errors(at) == ["Cannot classify: MemoryError"]


def test_missing_model_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv(locations.MODEL_ENV, str(tmp_path / "missing.keras"))
    monkeypatch.setenv(locations.METRICS_ENV, str(tmp_path / "missing.json"))
    at = start_app()
    assert "Model file not found" in at.error[0].value
    assert not [b for b in at.button if b.label == "Classify"]


def test_a_model_that_fails_to_load_is_shown_as_text(monkeypatch, tmp_path):
    """The error quotes the model's path: it was rendered as Markdown, links and all."""
    folder = tmp_path / "**bold** [x](http:example.invalid) $x^2$"
    folder.mkdir()
    model = folder / "model.keras"
    model.write_bytes(b"not a zip")
    monkeypatch.setenv(locations.MODEL_ENV, str(model))
    monkeypatch.setenv(locations.METRICS_ENV, str(tmp_path / "missing.json"))
    at = classify(start_app(), REVIEW)
    (error,) = shown_errors(at)
    assert error.startswith(f"could not load model {model}: not a Keras model file")
    for element in at.main.error:
        text = repr(element.proto)
        assert "**bold**" not in text and "](" not in text and "$x^2$" not in text, text


QUIET_SCRIPT = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
at.text_area(key="review").input("A wonderful film.")
next(b for b in at.button if b.label == "Classify").click().run()
assert not at.exception, at.exception
assert at.main.get("progress"), "not classified"
print("classified")
"""


@pytest.mark.slow
def test_app_prints_no_tensorflow_log_lines(project, tmp_path):
    """A fresh process runs the app up to a classified review: TensorFlow loads there."""
    env = {
        **os.environ,
        locations.MODEL_ENV: str(project / "models" / "model.keras"),
        locations.METRICS_ENV: str(project / "metrics" / "eval.json"),
    }
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user starts it: TensorFlow's default level
    run = subprocess.run(
        [sys.executable, "-c", QUIET_SCRIPT, str(APP)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and "classified" in run.stdout, run.stderr
    noisy = [line for line in (run.stdout + run.stderr).splitlines() if TF_LOG_LINE.search(line)]
    assert not noisy, noisy


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
def test_real_browser(project, tiny_model, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        locations.MODEL_ENV: str(project / "models" / "model.keras"),
        locations.METRICS_ENV: str(project / "metrics" / "eval.json"),
    }
    log = open(tmp_path / "streamlit.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    expected = labelling.score_texts(tiny_model, [HOSTILE])[0]
    try:
        wait_healthy(url, process, timeout=60)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(60_000)
                page.goto(url, timeout=60_000)
                review = page.get_by_role("textbox", name="Review", exact=True)
                review.fill(HOSTILE)
                review.press("Control+Enter")  # commit the text before clicking
                page.get_by_role("button", name="Classify").click()
                label = page.get_by_role("heading", name=re.compile(r"(Positive|Negative)$"))
                expect(label).to_have_text(re.compile(expected.label.capitalize()), timeout=90_000)
                expect(
                    page.get_by_text(f"P(positive) = {expected.probability:.3f}")
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
