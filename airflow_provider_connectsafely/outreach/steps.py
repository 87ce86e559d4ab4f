"""A sequence's steps (no Airflow imports; cheap to import from DAG files)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_connectsafely.outreach.variants import Variants

MESSAGE = "message"
CONNECT = "connect"
ACTIONS = (MESSAGE, CONNECT)


@dataclass(frozen=True)
class SequenceStep:
    """One step of a sequence: a message, or a connection request.

    A step's identity is its position: step 2 is sent at most once to each recipient of a
    campaign, whatever its text. Appending a step later sends it to those who finished the
    old ones; removing the last step never re-sends an earlier one.

    :param message: the Jinja template of the text (``{{ recipient.first_name }}``, the task
        context, ``step``); a template file ending ``.txt``, ``.j2`` or ``.md`` is read from
        the DAG's folder or ``template_searchpath``. Not used by a connect step.
    :param wait: how long after the previous step's recorded send (after enrolment for the
        first step) this one is due.
    :param subject: an InMail subject template (only with ``message_type="inmail"``).
    :param action: ``message`` (default) or ``connect``: a connection request. A recipient
        already connected skips it; a message step after it waits until the invitation is
        accepted.
    :param note: a connect step's note template (at most 300 characters once rendered), or
        None for an invitation without a note.
    :param give_up_after: on a connect step: when the invitation is still not accepted this
        long after it was sent, the recipient's sequence ends (``finished``, with the reason).
        None waits for as long as the sequence runs.
    :param variants: instead of ``message``: ``{name: template}``, e.g. ``{"a": "...", "b":
        "..."}``. Each recipient gets one, chosen from the campaign, the step and the person
        (the same on every run, retry and worker), recorded with the send; results per
        variant are in the task's XCom, ``connectsafely-ledger stats`` and the ledger page.
    :param variant_weights: how often each variant goes out, ``{name: whole number}``, e.g.
        ``{"a": 3, "b": 1}`` (a to 3 recipients in 4); equal when None.
    """

    message: str = ""
    wait: timedelta = timedelta(0)
    subject: str | None = None
    action: str = MESSAGE
    note: str | None = None
    give_up_after: timedelta | None = None
    variants: Mapping[str, str] | None = None
    variant_weights: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"SequenceStep.action must be one of {ACTIONS}, got {self.action!r}")
        if not isinstance(self.wait, timedelta) or self.wait < timedelta(0):
            raise ValueError(f"SequenceStep.wait must be a timedelta >= 0, got {self.wait!r}")
        if self.action == CONNECT:
            if self.variants is not None or self.variant_weights is not None:
                raise ValueError(
                    "SequenceStep.variants: a connect step sends no message, so it has no variants: "
                    "give variants= to a message step"
                )
            if self.message or self.subject:
                raise ValueError("a connect step sends no message: give its text as note=")
            if self.give_up_after is not None and (
                not isinstance(self.give_up_after, timedelta) or self.give_up_after <= timedelta(0)
            ):
                raise ValueError(
                    f"SequenceStep.give_up_after must be a timedelta > 0, got {self.give_up_after!r}"
                )
            return
        if self.variants is not None:
            if self.message:
                raise ValueError(
                    "SequenceStep: give message= or variants=, not both (variants={'a': ..., 'b': ...} "
                    "replaces message)"
                )
            self.variant_set()  # checks the names, texts and weights
        elif self.variant_weights is not None:
            raise ValueError("SequenceStep.variant_weights weighs variants=: give variants= too")
        elif not isinstance(self.message, str) or not self.message.strip():
            raise ValueError("SequenceStep.message must be a non-empty template (or give variants=)")
        if self.note is not None or self.give_up_after is not None:
            raise ValueError("note= and give_up_after= belong to a connect step (action='connect')")

    def __hash__(self) -> int:
        # The generated hash would fail on the variants' dicts; hash their items instead.
        def items(mapping: Mapping[str, object] | None) -> tuple[tuple[str, object], ...] | None:
            return tuple(sorted(mapping.items())) if mapping is not None else None

        return hash(
            (
                self.message,
                self.wait,
                self.subject,
                self.action,
                self.note,
                self.give_up_after,
                items(self.variants),
                items(self.variant_weights),
            )
        )

    def variant_set(self) -> Variants | None:
        """The step's variants and weights, checked; None for a step with one message."""
        if self.variants is None:
            return None
        from airflow_provider_connectsafely.outreach.variants import Variants

        return Variants.of(
            self.variants,
            self.variant_weights,
            field="SequenceStep.variants",
            weights_field="SequenceStep.variant_weights",
        )

    def template(self, variant: str | None = None) -> str:
        """The message template of ``variant`` (of the single message when None)."""
        if variant is None or self.variants is None:
            return self.message
        return self.variants[variant]

    @property
    def connects(self) -> bool:
        """Whether this step sends a connection request."""
        return self.action == CONNECT
