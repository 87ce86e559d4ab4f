"""What the simulated people do between two ticks, played on the emulator (tests/soak): they
accept invitations and reply to messages at the times their seed drew. Also reads the
emulator's own record into plain lists the invariants and the report use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from population import OPT_OUT_TEXT, REPLY_TEXT, Population

from airflow_provider_connectsafely.emulator.clock import parse_iso
from airflow_provider_connectsafely.emulator.profiles import urn_of


@dataclass
class Sent:
    """One message the emulator delivered, or one invitation it recorded."""

    kind: str  # connect, step2, step3, batch, single
    person: str
    account: str
    at: datetime
    seq: int = 0


def kind_of(text: str) -> str:
    for prefix, kind in (
        ("Thanks for connecting", "step2"),
        ("A follow-up", "step3"),
        ("Hello ", "batch"),
        ("Your invoice", "single"),
    ):
        if text.startswith(prefix):
            return kind
    return "other"


#: The messages a person of each group replies to (a sequence person on the batch's list too
#: answers the sequence, whose conversation its reply reads).
REPLIED_TO = {"sequence": ("step2", "step3"), "batch": ("batch",), "single": ("single",)}


def delivered(emulator: Any) -> list[Sent]:
    """Every message delivered and every invitation recorded, oldest first."""
    found = [
        Sent(kind_of(m["message"]), m["recipientProfileId"], m["accountId"], parse_iso(m["at"]), m["seq"])
        for m in emulator.messages()
    ]
    by_urn = _people_by_urn
    for invitation in list(emulator.state.connections._invitations.values()):
        found.append(
            Sent(
                "connect",
                by_urn.get(invitation.profile_urn, invitation.profile_urn),
                invitation.account_id,
                invitation.sent_at,
            )
        )
    return sorted(found, key=lambda s: s.at)


_people_by_urn: dict[str, str] = {}


@dataclass
class World:
    """The people's side of the conversation.

    :param population: who they are and what they will do.
    """

    population: Population
    replies: list[dict[str, Any]] = field(default_factory=list)  # {person, account, at, visible_from}
    accepted: list[dict[str, Any]] = field(default_factory=list)
    recontacted: list[dict[str, Any]] = field(default_factory=list)  # {person, at, tick}
    _replied: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        _people_by_urn.update({urn_of(p.profile_id): p.profile_id for p in self.population.people})
        self.people = self.population.by_id()

    def play(self, emulator: Any, now: datetime, since: datetime) -> None:
        """Accept the invitations and write the replies due by ``now`` (none before ``since``,
        when the previous tick's worker ended: what happens while nothing runs)."""
        book = emulator.state.connections
        for invitation in list(book._invitations.values()):
            person = self.people.get(_people_by_urn.get(invitation.profile_urn, ""))
            if invitation.accepted or person is None or person.accept_after is None:
                continue
            if invitation.sent_at + timedelta(hours=person.accept_after) <= now:
                emulator.accept_invitation(person.profile_id, account_id=invitation.account_id)
                self.accepted.append({"person": person.profile_id, "at": now})
        first: dict[str, Sent] = {}
        for sent in delivered(emulator):
            person = self.people.get(sent.person)
            if person is not None and sent.kind in REPLIED_TO[person.group] and sent.person not in first:
                first[sent.person] = sent
        for who, sent in first.items():
            person = self.people[who]
            if person.reply_after is None or who in self._replied:
                continue
            at = sent.at + timedelta(hours=person.reply_after)
            if at <= now:
                at = min(max(at, since), now)
                text = OPT_OUT_TEXT if person.opts_out else REPLY_TEXT
                emulator.reply(profile_id=who, text=text, at=at, account_id=sent.account)
                self._replied.add(who)
                self.replies.append(
                    {
                        "person": who,
                        "account": sent.account,
                        "at": at,
                        "visible_from": now,
                        "opt_out": person.opts_out,
                    }
                )

    def recontact(self, now: datetime, after: timedelta, tick: int) -> Any:
        """The next person whose opt-out the API has had for ``after`` by ``now`` and whom no
        send has been pointed at since (the single-send DAG then tries them), or None."""
        done = {r["person"] for r in self.recontacted}
        for reply in self.replies:
            if reply["opt_out"] and reply["person"] not in done and reply["visible_from"] + after <= now:
                self.recontacted.append({"person": reply["person"], "at": now, "tick": tick})
                return self.people[reply["person"]]
        return None
