"""Variant assignment (deterministic, weighted, the same in every process) and the Wilson
interval (against published values)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from helpers.paths import REPO

from airflow_provider_connectsafely.outreach.steps import SequenceStep
from airflow_provider_connectsafely.outreach.variants import Variants, choose, result_row, wilson

PEOPLE = [f"person-{n}" for n in range(2000)]


def test_the_same_person_gets_the_same_variant_and_the_split_follows_the_weights():
    weights = {"b": 1, "a": 3}
    first = [choose(weights, "spring", who) for who in PEOPLE]
    assert first == [choose(dict(reversed(weights.items())), "spring", who) for who in PEOPLE]
    share = Counter(first)["a"] / len(PEOPLE)
    assert 0.72 < share < 0.78  # 3 in 4, within sampling noise of 2,000 hashes
    # case and spaces of the identity do not matter; the campaign and the step do
    assert choose(weights, "spring", " Person-7 ") == choose(weights, "spring", "person-7")
    assert [choose(weights, "autumn", w) for w in PEOPLE] != first
    assert [choose(weights, "spring", w, step=2) for w in PEOPLE] != first


def test_a_zero_weight_sends_that_variant_to_nobody():
    assert {choose({"a": 1, "b": 0}, "spring", who) for who in PEOPLE} == {"a"}


SCRIPT = """
import json, sys
from airflow_provider_connectsafely.outreach.variants import choose
people = [f"person-{n}" for n in range(300)]
print(json.dumps([choose({"a": 1, "b": 1, "c": 2}, "spring", who, step=2) for who in people]))
"""


def test_the_choice_is_the_same_in_other_processes_whatever_their_hash_seed():
    here = [choose({"a": 1, "b": 1, "c": 2}, "spring", f"person-{n}", step=2) for n in range(300)]
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True, cwd=REPO
        )
        assert json.loads(out.stdout) == here


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    # Newcombe, "Two-sided confidence intervals for the single proportion" (1998), table I.
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_the_wilson_interval_matches_published_values(successes, trials, low, high):
    interval = wilson(successes, trials)
    assert interval is not None
    assert (round(interval[0], 4), round(interval[1], 4)) == (low, high)


def test_the_wilson_interval_without_trials_or_with_impossible_counts():
    assert wilson(0, 0) is None
    with pytest.raises(ValueError, match="between 0 and trials"):
        wilson(5, 4)


def test_a_result_row_carries_the_rate_and_interval_or_none_when_replies_are_not_tracked():
    assert result_row(1, "a", 263, 81) == {
        "step": 1,
        "variant": "a",
        "sent": 263,
        "replied": 81,
        "reply_rate": 0.308,
        "ci95": [0.2553, 0.3662],
    }
    assert result_row(None, "b", 40, None)["ci95"] is None
    assert result_row(2, None, 0, 0)["reply_rate"] is None


@pytest.mark.parametrize(
    ("variants", "weights", "error"),
    [
        ({}, None, "non-empty dict"),
        ({"a b": "x"}, None, "variant name 'a b'"),
        ({"a": " "}, None, r"variants\['a'\] must be a non-empty"),
        ({"a": "x", "b": "y"}, {"a": 1}, "a weight to each variant"),
        ({"a": "x", "b": "y"}, {"a": 1, "b": -1}, r"variant_weights\['b'\] must be a whole number"),
        ({"a": "x", "b": "y"}, {"a": 0, "b": 0}, "at least one weight"),
    ],
)
def test_bad_variants_or_weights_are_refused_naming_the_argument(variants, weights, error):
    with pytest.raises(ValueError, match=error):
        Variants.of(variants, weights)


def test_a_step_takes_variants_instead_of_a_message():
    step = SequenceStep(variants={"a": "Hi", "b": "Hello"}, variant_weights={"a": 1, "b": 2})
    variants = step.variant_set()
    assert variants is not None and variants.names == ["a", "b"]
    assert step.template("b") == "Hello"
    assert hash(step) == hash(
        SequenceStep(variants={"b": "Hello", "a": "Hi"}, variant_weights={"b": 2, "a": 1})
    )
    assert step == SequenceStep(variants={"a": "Hi", "b": "Hello"}, variant_weights={"a": 1, "b": 2})
    with pytest.raises(ValueError, match="message= or variants=, not both"):
        SequenceStep("Hi", variants={"a": "Hi"})
    with pytest.raises(ValueError, match="variant_weights weighs variants="):
        SequenceStep("Hi", variant_weights={"a": 1})
    with pytest.raises(ValueError, match="a connect step sends no message, so it has no variants"):
        SequenceStep(action="connect", variants={"a": "Hi"})
    with pytest.raises(ValueError, match=r"SequenceStep.variant_weights\['a'\]"):
        SequenceStep(variants={"a": "Hi"}, variant_weights={"a": 1.5})
