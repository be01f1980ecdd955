"""The behavioural test suite itself: its cases are well formed, and its scoring is right."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from imdb_sentiment.evaluation.behaviour import (
    CAPABILITIES,
    Case,
    behaviour_cases,
    behaviour_pass_rates,
)

CASES = behaviour_cases()


def cases_of(capability: str) -> list[Case]:
    return [case for case in CASES if case.capability == capability]


def test_enough_cases_in_every_capability():
    assert len(CASES) >= 300
    counts = Counter(case.capability for case in CASES)
    assert set(counts) == set(CAPABILITIES)
    assert all(counts[capability] >= 25 for capability in CAPABILITIES), counts


def test_cases_come_in_capability_order():
    order = [case.capability for case in CASES]
    assert sorted(order, key=CAPABILITIES.index) == order


def test_cases_are_the_same_every_call():
    assert behaviour_cases() == CASES
    assert behaviour_cases() == behaviour_cases()


def test_texts_are_non_empty_strings():
    for case in CASES:
        assert isinstance(case.texts, tuple)
        for text in case.texts:
            assert isinstance(text, str) and text.strip() == text and text, case


def test_label_cases_have_one_text_and_same_cases_two_different_texts():
    for case in CASES:
        assert case.expected in (0, 1)
        if case.kind == "label":
            assert len(case.texts) == 1, case
        else:
            assert case.kind == "same"
            assert len(case.texts) == 2 and case.texts[0] != case.texts[1], case


def test_irrelevant_change_cases_are_pairs():
    assert {case.kind for case in cases_of("irrelevant_change")} == {"same"}
    assert {case.kind for case in CASES if case.capability != "irrelevant_change"} == {"label"}


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_no_text_twice_within_a_capability(capability):
    texts = [text for case in cases_of(capability) for text in case.texts]
    repeated = [text for text, count in Counter(texts).items() if count > 1]
    assert not repeated


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_both_labels_in_every_capability(capability):
    labels = Counter(case.expected for case in cases_of(capability))
    assert labels[0] >= 5 and labels[1] >= 5, labels


def test_short_texts_have_3_to_15_words():
    for case in cases_of("short"):
        assert 3 <= len(case.texts[0].split()) <= 15, case.texts[0]


def test_few_non_reviews_mention_films():
    texts = [case.texts[0] for case in cases_of("non_review")]
    about_films = [text for text in texts if re.search(r"\b(film|movie|cinema)", text, re.I)]
    assert len(about_films) <= 0.15 * len(texts), about_films


def test_no_unfilled_template_slots():
    assert not [text for case in CASES for text in case.texts if re.search(r"[{}]", text)]


def test_a_perfect_model_passes_everything():
    perfect = [[case.expected] * len(case.texts) for case in CASES]
    assert behaviour_pass_rates(CASES, perfect) == dict.fromkeys(CAPABILITIES, 1.0)
    assert list(behaviour_pass_rates(CASES, perfect)) == list(CAPABILITIES)


def test_pass_rate_is_the_fraction_of_cases_passed():
    cases = [
        Case("negation", ("The film was not good.",), 0),
        Case("negation", ("I can't recommend it enough.",), 1),
        Case("negation", ("I did not like it.",), 0),
        Case("negation", ("The plot was not clever.",), 0),
        Case("short", ("I loved it.",), 1),
        Case("irrelevant_change", ("Anna is great.", "Wei is great."), 1, "same"),
        Case("irrelevant_change", ("Dull film.", "dull film."), 0, "same"),
    ]
    labels = [[0], [0], [0], [1], [1], [1, 0], [0, 0]]
    assert behaviour_pass_rates(cases, labels) == {
        "negation": 0.5,
        "short": 1.0,
        "irrelevant_change": 0.5,
    }


def test_a_same_case_fails_when_both_texts_are_wrong():
    case = Case("irrelevant_change", ("Great.", "great."), 1, "same")
    assert behaviour_pass_rates([case], [[0, 0]]) == {"irrelevant_change": 0.0}


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ([[1]], "cases but"),
        ([[1], [0], [1]], "cases but"),
        ([[2], [1, 1]], "0 or 1"),
        ([[1], [1, -1]], "0 or 1"),
        ([[1], [1]], "label"),
        ([[1, 0], [1, 1]], "label"),
    ],
)
def test_bad_labels_raise_value_error(labels, problem):
    cases = [
        Case("short", ("I loved it.",), 1),
        Case("irrelevant_change", ("Great film.", "great film."), 1, "same"),
    ]
    with pytest.raises(ValueError, match=problem):
        behaviour_pass_rates(cases, labels)


@pytest.mark.parametrize(
    "fields",
    [
        ("sarcasm", ("Sure, great.",), 1, "label"),
        ("short", ("Great.", "great."), 1, "label"),
        ("irrelevant_change", ("Great.",), 1, "same"),
        ("short", ("Great.",), 2, "label"),
        ("short", ("Great.",), 1, "pair"),
    ],
)
def test_malformed_cases_are_refused(fields):
    with pytest.raises(ValueError):
        Case(*fields)
