"""The opt-out detector: the default phrases in four languages on word boundaries, case- and
accent-insensitively; the false positives that matter; replacing, extending, a callable."""

from __future__ import annotations

import pytest

from airflow_provider_connectsafely.errors import ConnectSafelyValidationError
from airflow_provider_connectsafely.outreach.opt_out import (
    DEFAULT_PHRASES,
    OptOutDetector,
    detector,
    first_line,
)

DEFAULT = OptOutDetector()


@pytest.mark.parametrize(
    "reply",
    [
        "Please UNSUBSCRIBE me",
        "remove   me from your list",
        "Not interested, thanks.",
        "not interested in X but in Y",  # the list says "not interested": an opt-out
        "Please stop messaging me",
        "Don\u2019t contact me again",
        "Kein Interesse!",
        "Danke, kein  interesse",
        "Je ne suis pas intéressé",
        "pas interesse",  # no accents typed
        "PAS INTÉRESSÉE",
        "No me interesa, gracias",
        "Quiero darme de baja",
    ],
)
def test_the_default_list_finds_opt_outs(reply):
    assert DEFAULT(reply), reply


@pytest.mark.parametrize(
    "reply",
    [
        "Stop by our booth at the fair!",
        "Let's remove meetings from Friday",
        "Interested! Call me",
        "I am not uninterested",
        "unsubscribed-newsletter-link",  # a longer word, not the phrase
        "Deinteresse",
        "",
        None,
    ],
)
def test_the_default_list_leaves_ordinary_replies_alone(reply):
    assert not DEFAULT(reply), reply


def test_every_language_has_default_phrases():
    assert set(DEFAULT_PHRASES) == {"en", "de", "fr", "es"}
    assert all(DEFAULT(phrase) for group in DEFAULT_PHRASES.values() for phrase in group)


def test_replace_extend_or_decide_with_a_callable():
    replaced = detector(["please go away"])
    assert replaced is not None and replaced("Please go away.") and not replaced("not interested")
    extended = OptOutDetector(extra=["no thanks"])
    assert extended("No thanks!") and extended("unsubscribe")
    custom = detector(lambda text: "🛑" in text)
    assert custom is not None and custom("🛑") and not custom("unsubscribe")
    assert custom.match("🛑") == "custom check"
    assert DEFAULT.match("Kein Interesse!") == "kein interesse"
    assert detector(False) is None and detector(None) is None


def test_a_bad_setting_names_the_field():
    with pytest.raises(ConnectSafelyValidationError, match="`opt_out`"):
        detector(42)


def test_the_reason_is_the_first_line():
    assert first_line("\n  Please   stop \nsecond line") == "Please stop"
