"""A sequence's steps (no Airflow imports; cheap to import from DAG files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class SequenceStep:
    """One message of a sequence.

    A step's identity is its position: step 2 is sent at most once to each recipient of a
    campaign, whatever its text. Appending a step later sends it to those who finished the
    old ones; removing the last step never re-sends an earlier one.

    :param message: the Jinja template of the text (``{{ recipient.first_name }}``, the task
        context, ``step``); a template file ending ``.txt``, ``.j2`` or ``.md`` is read from
        the DAG's folder or ``template_searchpath``.
    :param wait: how long after the previous step's recorded send (after enrolment for the
        first step) this one is due.
    :param subject: an InMail subject template (only with ``message_type="inmail"``).
    """

    message: str
    wait: timedelta = timedelta(0)
    subject: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.message, str) or not self.message.strip():
            raise ValueError("SequenceStep.message must be a non-empty template")
        if not isinstance(self.wait, timedelta) or self.wait < timedelta(0):
            raise ValueError(f"SequenceStep.wait must be a timedelta >= 0, got {self.wait!r}")
