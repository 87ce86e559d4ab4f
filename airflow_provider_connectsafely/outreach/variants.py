"""Message variants (A/B and more): which variant each recipient gets, and how to read the
results. No Airflow imports; cheap to import from DAG files.

A recipient's variant is a pure function of the campaign, the step and the recipient (a
SHA-256 hash, not Python's ``hash``, which changes between processes), so reruns, retries and
other workers choose the same one; the chosen variant is recorded with the send.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: A variant's name: short, as it is stored with each send and shown in reports.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Variants:
    """The texts of one message and how often each goes out.

    :param texts: ``{name: template}``, at least one.
    :param weights: ``{name: whole number >= 0}``; 1 each when None.
    """

    texts: Mapping[str, str]
    weights: Mapping[str, int]

    @classmethod
    def of(
        cls,
        variants: Any,
        weights: Any = None,
        *,
        field: str = "variants",
        weights_field: str = "variant_weights",
    ) -> Variants:
        """Check ``variants`` and ``weights`` as a user gave them.

        :param field: the argument's name, for the error.
        :param weights_field: the weights argument's name, for the error.
        :raises ValueError: naming the argument and the fix.
        """
        if not isinstance(variants, Mapping) or not variants:
            raise ValueError(
                f"{field} must be a non-empty dict of variant name to message template, e.g. "
                f"{{'a': 'Hi {{{{ recipient.first_name }}}}', 'b': 'Hello ...'}}; got {variants!r}"
            )
        for name, text in variants.items():
            if not isinstance(name, str) or not NAME.fullmatch(name):
                raise ValueError(
                    f"{field}: variant name {name!r} must be 1 to 64 letters, digits, '_', '.' or '-' "
                    "(starting with a letter or digit)"
                )
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{field}[{name!r}] must be a non-empty message template")
        if weights is None:
            return cls(dict(variants), dict.fromkeys(variants, 1))
        if not isinstance(weights, Mapping) or set(weights) != set(variants):
            raise ValueError(
                f"{weights_field} must give a weight to each variant of {field} and no other: "
                f"expected the keys {sorted(variants)}, got {weights!r}"
            )
        for name, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                raise ValueError(
                    f"{weights_field}[{name!r}] must be a whole number >= 0 (e.g. {{'a': 3, 'b': 1}} sends "
                    f"a to 3 in 4), got {weight!r}"
                )
        if not any(weights.values()):
            raise ValueError(f"{weights_field}: at least one weight must be above 0")
        return cls(dict(variants), dict(weights))

    @property
    def names(self) -> list[str]:
        """The names, sorted: the order the choice walks (a dict's order does not matter)."""
        return sorted(self.texts)

    def choose(self, campaign: str, recipient: str, step: int = 1) -> str:
        """The variant of ``recipient`` (the identity that keys the ledger) at ``step`` of
        ``campaign``; the same in every process, run and retry."""
        return choose(self.weights, campaign, recipient, step)


def choose(weights: Mapping[str, int], campaign: str, recipient: str, step: int = 1) -> str:
    """The variant for one recipient: the hash of campaign, step and recipient, read as a
    number below the total weight, picks the variant whose share of the sorted names holds it.

    :param weights: ``{name: weight}``, at least one weight above 0.
    :param campaign: the campaign's name.
    :param recipient: the recipient as it keys the ledger (lower-case profile ID, or URN).
    :param step: the sequence step (1 for a batch): each step draws on its own.
    """
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("at least one variant weight must be above 0")
    seed = "\x1f".join((campaign, str(step), recipient.strip().lower())).encode("utf-8")
    point = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") % total
    for name in sorted(weights):
        point -= weights[name]
        if point < 0:
            return name
    raise AssertionError("unreachable: the weights add up to total")


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95% by default); None without trials.

    :param successes: e.g. replies.
    :param trials: e.g. messages sent.
    :param z: the normal quantile (1.96 for 95%).
    """
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials, got {successes} of {trials}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def result_row(step: int | None, variant: str | None, sent: int, replied: int | None) -> dict[str, Any]:
    """One line of results: the counts, the reply rate and its 95% Wilson interval (rounded
    to 4 places; None when replies are not tracked or nothing was sent).

    :param step: the sequence step (None for a batch).
    :param variant: the variant (None for a step without variants).
    :param sent: messages recorded sent.
    :param replied: of those, how many people replied (None: not tracked, e.g. a batch).
    """
    interval = wilson(replied, sent) if replied is not None else None
    return {
        "step": step,
        "variant": variant,
        "sent": sent,
        "replied": replied,
        "reply_rate": round(replied / sent, 4) if replied is not None and sent else None,
        "ci95": [round(interval[0], 4), round(interval[1], 4)] if interval else None,
    }
