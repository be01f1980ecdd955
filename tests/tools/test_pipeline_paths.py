"""tools/pipeline_paths.py reads dvc.yaml's paths without a YAML parser, as the package does with one."""

from __future__ import annotations

import sys

import pytest
from builders import REPO

from imdb_sentiment.core.locations import pipeline_paths as package_paths

sys.path.insert(0, str(REPO / "tools"))
import pipeline_paths  # noqa: E402

sys.path.remove(str(REPO / "tools"))


def test_the_tools_read_the_same_paths_as_the_package():
    assert pipeline_paths.pipeline_paths(REPO) == {
        key: str(path) for key, path in package_paths(REPO).items()
    }


def test_the_mapping_ends_where_its_indentation_does():
    text = (
        "vars:\n  - paths:\n      model: m.keras  # a comment\n\n      eval: e.json\n  - run: x\n"
    )
    assert pipeline_paths.parse_paths(text) == {"model": "m.keras", "eval": "e.json"}


@pytest.mark.parametrize("text", ["stages: {}\n", "vars:\n  - paths:\n  - run: x\n"])
def test_a_pipeline_file_without_paths_is_named(text):
    with pytest.raises(ValueError, match="dvc.yaml"):
        pipeline_paths.parse_paths(text)
