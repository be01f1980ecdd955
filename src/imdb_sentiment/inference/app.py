"""Streamlit app: classify a review and see which words drove the score.

Run with `streamlit run src/imdb_sentiment/inference/app.py --server.address 127.0.0.1`.
IMDB_SENTIMENT_MODEL and IMDB_SENTIMENT_METRICS choose the model and its test
metrics (defaults: models/model.keras and metrics/eval.json, here or in the project).
The metrics are shown only when dvc.lock records them as the evaluate stage's output for
this very model file. The review is shown as text only: never as Markdown or HTML.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
import yaml

from imdb_sentiment.core import locations, startup
from imdb_sentiment.core.artifacts import model_params_path
from imdb_sentiment.core.errors import PipelineError

if TYPE_CHECKING:  # labelling imports TensorFlow, which loads only when the model does
    from imdb_sentiment.inference.labelling import Importance

REVIEW_KEY = "review"
PENDING_KEY = "classify_pending"  # set by an example button: classify on this run
# The longest IMDb review has about 14,000 characters. Streamlit cuts a longer value on
# the server too, so a client that skips the browser's limit gets no further.
MAX_REVIEW_CHARS = 20_000

EXAMPLES = {
    "Loved it": "A wonderful, moving film. The acting is superb and the story stayed with "
    "me for days. One of the best movies I have seen this year.",
    "Hated it": "A boring, predictable mess. The dialogue is awful, the plot makes no sense "
    "and I wanted to leave after twenty minutes. A complete waste of time.",
    "Mixed": "The first half is slow and the lead actor is wooden, but the ending is "
    "brilliant and the music is beautiful. Worth seeing once.",
    "Negation": "I expected to hate this, but it was not bad at all. Not a masterpiece, "
    "yet never dull either.",
}


def model_path() -> Path:
    return locations.default_model()


def metrics_path() -> Path:
    return locations.default_metrics()


def params_path(model: Path) -> Path:
    """The params file train writes beside the model."""
    return model_params_path(model)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@st.cache_data(max_entries=8, show_spinner=False)
def file_md5(path: str, mtime: float, size: int) -> str:
    """The file's MD5, as DVC records it (`mtime` and `size` are only part of the cache key)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    stat = path.stat()
    return file_md5(str(path), stat.st_mtime, stat.st_size)


def evaluate_stage_of(metrics: Path) -> dict[str, Any] | None:
    """The evaluate stage in the dvc.lock nearest above `metrics`, if it records `metrics`
    as its output with the file's present MD5 (so the stage wrote it as it is now)."""
    metrics = metrics.resolve()
    for root in metrics.parents:
        lock = root / "dvc.lock"
        if not lock.is_file():
            continue
        try:
            stage = yaml.safe_load(lock.read_text(encoding="utf-8"))["stages"]["evaluate"]
            outs = {out["path"]: out.get("md5") for out in stage.get("outs", [])}
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
            return None
        recorded = outs.get(metrics.relative_to(root).as_posix())
        return stage if recorded and recorded == md5_of(metrics) else None
    return None


def scored_model(metrics: Path, model: Path) -> bool:
    """Whether `metrics` are the evaluate stage's scores of this model file (same MD5)."""
    stage = evaluate_stage_of(metrics)
    if stage is None or not model.is_file():
        return False
    models = {
        dep.get("md5")
        for dep in stage.get("deps", [])
        if isinstance(dep, dict) and str(dep.get("path", "")).endswith(".keras")
    }
    return md5_of(model) in models


def model_metrics(model: Path, metrics: Path) -> tuple[dict[str, Any] | None, str]:
    """The test metrics of `model`, or None and why none are shown."""
    data = read_json(metrics)
    if data is None:
        return None, f"No test metrics at `{metrics}`."
    if not scored_model(metrics, model):
        return None, (
            f"Test metrics not shown: `{metrics}` is not recorded (dvc.lock, "
            "evaluate stage) as the scores of this model file."
        )
    return data, ""


@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def load_model(path: str, mtime: float):
    """The Keras model, loaded once per file version (`mtime` is only part of the cache key)."""
    startup.pin_kernels()  # the evaluate stage's kernels, so scores equal its scores
    with startup.quiet_tensorflow():  # no absl or CUDA log lines in the server's output
        from imdb_sentiment.inference import labelling  # noqa: F401  TensorFlow, loaded quietly
        from imdb_sentiment.inference.scoring import load_model as load
        from imdb_sentiment.inference.scoring import tune_threads

    tune_threads()  # effective only if nothing in this server ran TensorFlow before
    return load(path)


def choose_example(text: str) -> None:
    """Button callback: runs before the rerun, so the text area can still be changed; the
    rerun then classifies the example."""
    st.session_state[REVIEW_KEY] = text
    st.session_state[PENDING_KEY] = True


def show_sidebar(model: Path) -> None:
    """Model file, its test metrics and training params, where present."""
    with st.sidebar:
        st.header("Model")
        st.caption(f"`{model}`")
        metrics, why_none = model_metrics(model, metrics_path())
        if metrics:
            st.subheader("Test metrics")
            names = ("accuracy", "f1", "roc_auc", "precision", "recall")
            cols = st.columns(2)
            for i, name in enumerate(n for n in names if isinstance(metrics.get(n), (int, float))):
                cols[i % 2].metric(name, f"{metrics[name]:.4f}")
            with st.expander("All metrics"):
                st.json(metrics)
        else:
            st.caption(why_none)
        params = read_json(params_path(model))
        if params:
            with st.expander("Training parameters"):
                st.json(params)


def show_result(model: Any, text: str) -> None:
    """Label, probability bar and occlusion word importance for one review."""
    from imdb_sentiment.inference import labelling

    result = labelling.score_texts(model, [text])[0]
    if not result.ok:
        st.warning(f"Cannot classify: {result.error}.")
        return
    if result.label is None or result.probability is None:
        raise RuntimeError(
            f"a review scored without an error has no label or probability: {result}"
        )
    probability = float(result.probability)
    # Material icons ship with Streamlit; emoji need a font the browser may lack.
    icon = ":material/thumb_up:" if result.label == labelling.POSITIVE else ":material/thumb_down:"
    st.subheader(f"{icon} {result.label.capitalize()}")
    st.progress(probability, text=f"P(positive) = {probability:.3f}")

    try:
        with st.spinner("Measuring word importance..."):
            importance = labelling.word_importance(model, text)
    except Exception as err:  # the review's variants can fail where the review did not
        st.error(f"Cannot measure word importance: {error_line(err)}")
        return
    show_importance(importance, labelling.highlight_html(importance))


def error_line(err: Exception) -> str:
    """`err` as one line of text for st.error, which renders Markdown.

    A PipelineError says what is wrong in its message; any other error gets its type, and
    only its first line (TensorFlow's list the graph's nodes below). Escaped like the
    review's words, as a message may quote the text that was scored.
    """
    from imdb_sentiment.inference.labelling import escape_word

    first = (str(err).strip().splitlines() or [""])[0]
    if not isinstance(err, PipelineError):
        first = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return escape_word(first)


def reading_note(importance: Importance) -> str | None:
    """Which words of the review the importance leaves out, and why; None if none."""
    shown = len(importance.words)
    if importance.unread_words:
        end, other = ("last", "first") if importance.keep == "last" else ("first", "last")
        return (
            f"The model reads only the {end} {importance.max_len} tokens of a review: "
            f"the {other} {importance.unread_words} words were not read, so they had "
            "no effect and are not shown."
        )
    if importance.truncated:
        end = "last" if importance.keep == "last" else "first"
        return f"Importance shown for the {end} {shown} words only."
    return None


def show_importance(importance: Importance, highlighted: str) -> None:
    """The words coloured by their effect, and the most influential ones as a table."""
    st.markdown(
        "**Word importance** (occlusion: how much P(positive) falls when the "
        "word is removed; green pushes towards positive, red towards negative)"
    )
    # Safe despite unsafe_allow_html: highlight_html escapes every word for HTML and Markdown.
    st.markdown(highlighted, unsafe_allow_html=True)
    note = reading_note(importance)
    if note:
        st.caption(note)
    top = sorted(zip(importance.deltas, importance.words), key=lambda p: -abs(p[0]))[:8]
    if top:
        with st.expander("Most influential words"):
            # a dataframe shows cells as plain text (st.table would render them as Markdown)
            st.dataframe(
                {
                    "word": [w for _, w in top],
                    "effect on P(positive)": [f"{d:+.4f}" for d, _ in top],
                },
                hide_index=True,
            )


def main() -> None:
    st.set_page_config(page_title="IMDb sentiment", page_icon=":material/movie:")
    st.title(":material/movie: IMDb review sentiment")
    model_file = model_path()
    show_sidebar(model_file)
    if not model_file.is_file():
        st.error(
            f"Model file not found: `{model_file}`. Train it with `dvc repro`, or point "
            f"the `{locations.MODEL_ENV}` environment variable at a `.keras` model."
        )
        st.stop()

    st.write("Try an example:")
    for col, (name, text) in zip(st.columns(len(EXAMPLES)), EXAMPLES.items()):
        col.button(name, on_click=choose_example, args=(text,), width="stretch")
    text = st.text_area(
        "Review",
        key=REVIEW_KEY,
        height=180,
        max_chars=MAX_REVIEW_CHARS,
        placeholder="Paste or type a movie review...",
    )
    clicked = st.button("Classify", type="primary")
    if clicked or st.session_state.pop(PENDING_KEY, False):
        classify(model_file, text)


def classify(model_file: Path, text: str) -> None:
    """Load the model (once) and show the review's result.

    An error in loading or scoring is one line on the page, as in the CLI, and is not
    raised: Streamlit would show its traceback and print it to the server's log.
    """
    try:
        model = load_model(str(model_file), model_file.stat().st_mtime)
    except Exception as err:  # PipelineError for a bad file; its message quotes the path
        st.error(error_line(err))
        st.stop()
    try:
        show_result(model, text)
    except Exception as err:  # e.g. PipelineError: the model returned NaN, not a probability
        st.error(f"Cannot classify: {error_line(err)}")


# Streamlit runs this file as the __main__ module; importing it does nothing.
if __name__ == "__main__":
    main()
