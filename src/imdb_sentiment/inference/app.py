"""Streamlit app: classify a review and see which words drove the score.

Run with `streamlit run src/imdb_sentiment/inference/app.py --server.address 127.0.0.1`.
IMDB_SENTIMENT_MODEL and IMDB_SENTIMENT_METRICS choose the model and its test
metrics (defaults: models/model.keras and metrics/eval.json, here or in the project).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from imdb_sentiment.core import locations, startup

REVIEW_KEY = "review"

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
    """The model card written by train: models/model.keras -> models/model.params.json."""
    return model.with_name(model.stem + ".params.json")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def load_model(path: str, mtime: float):
    """The Keras model, loaded once per file version (`mtime` is only part of the cache key)."""
    startup.pin_kernels()  # the evaluate stage's kernels, so scores equal its scores
    from imdb_sentiment.inference.scoring import tune_threads
    from imdb_sentiment.inference.scoring import load_model as load

    tune_threads()  # effective only if nothing in this server ran TensorFlow before
    return load(path)


def fill_example(text: str) -> None:
    """Button callback: runs before the rerun, so the text area can still be changed."""
    st.session_state[REVIEW_KEY] = text


def show_sidebar(model: Path) -> None:
    """Model file, test metrics and training params, where present."""
    with st.sidebar:
        st.header("Model")
        st.caption(f"`{model}`")
        metrics = read_json(metrics_path())
        if metrics:
            st.subheader("Test metrics")
            names = ("accuracy", "f1", "roc_auc", "precision", "recall")
            cols = st.columns(2)
            for i, name in enumerate(n for n in names if isinstance(metrics.get(n), (int, float))):
                cols[i % 2].metric(name, f"{metrics[name]:.4f}")
            with st.expander("All metrics"):
                st.json(metrics)
        else:
            st.caption(f"No test metrics at `{metrics_path()}`.")
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
    probability = float(result.probability)
    # Material icons ship with Streamlit; emoji need a font the browser may lack.
    icon = ":material/thumb_up:" if result.label == labelling.POSITIVE else ":material/thumb_down:"
    st.subheader(f"{icon} {result.label.capitalize()}")
    st.progress(probability, text=f"P(positive) = {probability:.3f}")

    with st.spinner("Measuring word importance..."):
        importance = labelling.word_importance(model, text)
    st.markdown("**Word importance** (occlusion: how much P(positive) falls when the "
                "word is removed; green pushes towards positive, red towards negative)")
    # Safe despite unsafe_allow_html: highlight_html escapes every word of the review.
    st.markdown(labelling.highlight_html(importance), unsafe_allow_html=True)
    if importance.truncated:
        st.caption(f"Importance shown for the first {len(importance.words)} words only.")
    top = sorted(zip(importance.deltas, importance.words), key=lambda p: -abs(p[0]))[:8]
    if top:
        with st.expander("Most influential words"):
            st.table({"word": [w for _, w in top], "effect on P(positive)":
                      [f"{d:+.4f}" for d, _ in top]})


def main() -> None:
    st.set_page_config(page_title="IMDb sentiment", page_icon=":material/movie:")
    st.title(":material/movie: IMDb review sentiment")
    model_file = model_path()
    show_sidebar(model_file)
    if not model_file.is_file():
        st.error(f"Model file not found: `{model_file}`. Train it with `dvc repro`, or point "
                 f"the `{locations.MODEL_ENV}` environment variable at a `.keras` model.")
        st.stop()

    st.write("Try an example:")
    for col, (name, text) in zip(st.columns(len(EXAMPLES)), EXAMPLES.items()):
        col.button(name, on_click=fill_example, args=(text,), width="stretch")
    text = st.text_area("Review", key=REVIEW_KEY, height=180,
                        placeholder="Paste or type a movie review...")
    if st.button("Classify", type="primary"):
        try:
            model = load_model(str(model_file), model_file.stat().st_mtime)
        except Exception as err:  # PipelineError for a bad file; shown, not a traceback
            st.error(str(err))
            st.stop()
        show_result(model, text)


# Streamlit runs this file as the __main__ module; importing it does nothing.
if __name__ == "__main__":
    main()
