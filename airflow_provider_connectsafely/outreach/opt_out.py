"""Does a reply ask to stop? The opt-out detector, and what follows when it does.

No Airflow imports. The default is a phrase list in English, German, French and Spanish,
matched as whole words (``remove me`` is not in ``remove meeting``), ignoring case, accents
and runs of spaces: ``Kein Interesse!`` and ``pas interesse`` match. A phrase matches
wherever it stands, whatever else the reply says: ``not interested in X but in Y`` opts out,
because ``not interested`` is on the list; ``stop by our booth`` does not, because ``stop``
alone is not. Replace the list, extend it, or pass a callable of your own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from airflow_provider_connectsafely.ledger.store import SendLedger

#: The default phrases, per language; defined here once (the docs list them from here).
DEFAULT_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "unsubscribe",
        "remove me",
        "not interested",
        "no interest",
        "stop messaging",
        "stop contacting",
        "stop sending",
        "stop writing",
        "do not contact",
        "don't contact",
        "dont contact",
        "do not message",
        "don't message",
        "leave me alone",
        "opt out",
        "opt me out",
        "take me off",
    ),
    "de": (
        "kein interesse",
        "nicht interessiert",
        "abmelden",
        "austragen",
        "nicht mehr kontaktieren",
        "nicht kontaktieren",
        "keine nachrichten mehr",
        "keine weiteren nachrichten",
        "hören sie auf",
        "lassen sie mich in ruhe",
    ),
    "fr": (
        "pas intéressé",
        "pas intéressée",
        "pas intéressés",
        "aucun intérêt",
        "désinscrire",
        "désabonner",
        "ne me contactez plus",
        "ne plus me contacter",
        "arrêtez de m'écrire",
        "arrêtez de me contacter",
        "laissez-moi tranquille",
    ),
    "es": (
        "no me interesa",
        "no estoy interesado",
        "no estoy interesada",
        "darme de baja",
        "dar de baja",
        "no me contacte",
        "no me contactes",
        "no me escriba",
        "no me escribas",
        "deja de escribirme",
        "deje de escribirme",
    ),
}

#: What a sequence, sensor or watcher accepts as ``opt_out``: True (the default list), False
#: or None (off), a list of phrases (instead of the default), an :class:`OptOutDetector`, or
#: a callable taking the reply's text and answering whether it opts out.
OptOutSetting = Union[bool, None, Iterable[str], "OptOutDetector", Callable[[str], Any]]


def fold(text: str) -> str:
    """Lower case, accents off, typographic apostrophes plain, spaces single."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.replace("\u2019", "'").replace("\u2018", "'").split())


@dataclass
class OptOutDetector:
    """Decides whether a reply asks to stop.

    :param phrases: the phrases to look for, instead of :data:`DEFAULT_PHRASES` (every
        language); None keeps the default.
    :param extra: phrases looked for as well (extends the list).
    :param check: a callable of your own (the text to a truthy answer), asked after the
        phrases; with ``phrases=[]`` it decides alone.
    """

    phrases: Iterable[str] | None = None
    extra: Iterable[str] = ()
    check: Callable[[str], Any] | None = None
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        base = (
            [p for group in DEFAULT_PHRASES.values() for p in group]
            if self.phrases is None
            else list(self.phrases)
        )
        words = sorted({fold(p) for p in [*base, *self.extra] if fold(p)}, key=len, reverse=True)
        if words:
            alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
            # Whole words: no letter or digit right before or after the phrase.
            self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def match(self, text: str | None) -> str | None:
        """The phrase (or ``custom check``) that makes ``text`` an opt-out, or None."""
        if not text:
            return None
        if self._pattern is not None:
            found = self._pattern.search(fold(text))
            if found:
                return found.group(0)
        if self.check is not None and self.check(text):
            return "custom check"
        return None

    def __call__(self, text: str | None) -> bool:
        return self.match(text) is not None


def detector(setting: OptOutSetting) -> OptOutDetector | None:
    """The detector an ``opt_out`` argument asks for (see :data:`OptOutSetting`).

    :raises ConnectSafelyValidationError: a setting of another type.
    """
    from airflow_provider_connectsafely.errors import ConnectSafelyValidationError

    if setting is None or setting is False:
        return None
    if setting is True:
        return OptOutDetector()
    if isinstance(setting, OptOutDetector):
        return setting
    if isinstance(setting, str):
        return OptOutDetector(phrases=[setting])
    if callable(setting):
        return OptOutDetector(phrases=[], check=setting)
    if isinstance(setting, Iterable):
        phrases = list(setting)
        if all(isinstance(p, str) for p in phrases):
            return OptOutDetector(phrases=phrases)
    raise ConnectSafelyValidationError(
        "opt_out",
        f"{setting!r} is not an opt-out setting",
        "pass True (the default phrases), False, a list of phrases, an OptOutDetector or a callable",
    )


def first_line(text: str | None) -> str:
    """The reply's first non-blank line: the suppression's reason."""
    for line in (text or "").splitlines():
        if line.strip():
            return " ".join(line.split())[:500]
    return ""


def suppress_if_opted_out(
    ledger: SendLedger, found: OptOutDetector | None, person: str | None, text: str | None
) -> bool:
    """Put ``person`` on the do-not-contact list everywhere (source ``reply``, the reply's
    first line as the reason) when ``text`` opts out; whether it did."""
    if found is None or not person or not found(text):
        return False
    ledger.suppress(person, reason=first_line(text) or "opted out in a reply", source="reply")
    return True
