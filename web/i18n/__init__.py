"""The UI's languages: gettext catalogues (``web/i18n/<lang>/LC_MESSAGES/messages.po``) read with Babel at start-up.

The ``.po`` files are the source of truth and are read directly (no compile step, so a fresh clone works):
English is the source language, Dutch the translation. Numbers and dates are formatted with Babel per locale.

A connector package brings the words of its connector, nodes and templates in its own catalogue,
``<package>/locale/<lang>.po`` (beside its ``connector.py``); those are read beside the UI's, and
the UI's own translation wins where both translate the same text. Adding an application touches no catalogue here.

A record's field names ("Billing → Country", made by ``nodes.texts.friendly_path``) are translated part by part
through the glossary entries ``record field: <part>`` ("record field: Billing" → "Factuuradres"): the UI's catalogue
holds the WooCommerce and Asperion fields, a connector's own catalogue its fields; a part no glossary knows stays.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from nodes.texts import friendly_path

__all__ = (
    "LANGUAGES",
    "catalogue",
    "contributed_catalogues",
    "field_name",
    "fmt_date",
    "fmt_datetime",
    "fmt_number",
    "fmt_percent",
    "pick_language",
    "translate",
    "translate_message",
)

HERE = Path(__file__).resolve().parent
LANGUAGES: dict[str, str] = {"en": "English", "nl": "Nederlands"}
LOCALES = {"en": "en_GB", "nl": "nl_NL"}
TIMEZONE = ZoneInfo("Europe/Amsterdam")


def _read(path: Path, language: str) -> dict[str, str]:
    with path.open("rb") as handle:
        cat = read_po(handle, locale=LOCALES.get(language, language))
    return {str(m.id): str(m.string) for m in cat if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def contributed_catalogues(language: str) -> list[Path]:
    """The ``locale/<language>.po`` files of the connector packages (found by the connector registry)."""
    from nodes.connectors.registry import connectors

    found: list[Path] = []
    for connector in connectors().values():
        module_file = getattr(sys.modules.get(type(connector).__module__), "__file__", None)
        if module_file:
            path = Path(module_file).resolve().parent / "locale" / f"{language}.po"
            if path.exists() and path not in found:
                found.append(path)
    return found


@lru_cache(maxsize=8)
def catalogue(language: str) -> dict[str, str]:
    """msgid → msgstr of one language (empty for English, the source language): the UI's own catalogue over the
    connector packages' ones."""
    path = HERE / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    merged: dict[str, str] = {}
    for contributed in contributed_catalogues(language):
        merged.update(_read(contributed, language))
    return {**merged, **_read(path, language)}


def pick_language(value: str | None) -> str:
    """A supported language code for ``value`` (user setting or Accept-Language), English by default."""
    for part in (value or "").replace(";", ",").split(","):
        code = part.strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def translate(language: str, message: str) -> str:
    """``message`` in ``language`` (the English text when there is no translation)."""
    if language == "en":
        return message
    return catalogue(language).get(message) or message


FIELD = "record field: "
"""The glossary prefix of a record field's part ("record field: Date paid"), so no field clashes with a UI text."""


def _field_word(language: str, word: str) -> str:
    return catalogue(language).get(FIELD + word, word) if language != "en" else word


def field_name(language: str, path: str) -> str:
    """A record path as a person reads it in ``language``: ``billing.country`` → "Factuuradres → Land" in Dutch."""
    return friendly_path(path, lambda word: _field_word(language, word))


def _field(language: str, name: str) -> str:
    """A field's friendly name taken from a message ("Billing → Country") in ``language``, part by part; a label
    before it (a filter's own name: "Paid: Date paid") stays as it is."""
    label, colon, name = name.rpartition(": ")
    return label + colon + " → ".join(_field_word(language, word) for word in name.split(" → "))


def fmt_number(value: int | float | Decimal | None, language: str, *, decimals: int | None = None) -> str:
    if value is None:
        return ""
    if decimals is not None:
        return format_decimal(value, format="#,##0." + "0" * decimals, locale=LOCALES[language])
    return format_decimal(value, locale=LOCALES[language])


def fmt_percent(value: float | None, language: str) -> str:
    return "" if value is None else format_percent(value, format="#,##0.#%", locale=LOCALES[language])


def fmt_datetime(value: datetime | str | None, language: str) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_datetime(value, format="medium", tzinfo=TIMEZONE, locale=LOCALES[language])


def fmt_date(value: date | str | None, language: str) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, format="d MMM", locale=LOCALES[language])


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@lru_cache(maxsize=8)
def _patterns(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Catalogue texts with ``{name}`` placeholders ("delivered as {target}") as patterns over whole messages, those
    with the most words of their own first."""
    out: list[tuple[int, re.Pattern[str], str]] = []
    for message, translation in catalogue(language).items():
        if not _PLACEHOLDER.search(message):
            continue
        names: set[str] = set()
        pattern = ""
        for part in re.split(r"(\{[a-z_]+\})", message):
            found = _PLACEHOLDER.fullmatch(part)
            if found and found.group(1) not in names:
                names.add(found.group(1))
                # an id is one word ("146"), so "{what} {id}" splits "sales invoice 146" after "invoice"
                pattern += f"(?P<{found.group(1)}>\\S+)" if found.group(1) == "id" else f"(?P<{found.group(1)}>.+?)"
            else:
                pattern += re.escape(part)
        out.append((len(_PLACEHOLDER.sub("", message)), re.compile(pattern + r"\Z", re.S), translation))
    # the most specific first: "expected one of {value}" before "expected {value}"
    out.sort(key=lambda item: -item[0])
    return tuple((compiled, translation) for _, compiled, translation in out)


def translate_message(language: str, message: str | None) -> str:
    """A message made by the engine or a node ("delivered as 146") in ``language``: the catalogue's text, or its
    pattern with the values filled in (each value translated in turn when the catalogue knows it: "sales invoice",
    a filter's reason; a ``{field}`` as a record field: "Betaaldatum"); parts joined by "; " are translated one by
    one; a label before ": " (a filter's own name) stays as it is and the rest is translated; unknown text stays as
    it is. Quoted values ("klarna") get the language's quotes (in a known message)."""
    if not message or language == "en":
        return message or ""
    direct = catalogue(language).get(message)
    if direct:
        return direct
    if "; " in message:
        return "; ".join(translate_message(language, part) for part in message.split("; "))
    for pattern, translation in _patterns(language):
        found = pattern.match(message)
        if found:
            parts = found.groupdict().items()
            values = {k: _field(language, v) if k == "field" else _value(language, v) for k, v in parts}
            return _fill(translation, values)
    head, colon, rest = message.partition(": ")
    if colon and rest:
        translated = translate_message(language, rest)
        if translated != rest:
            return f"{head}: {translated}"
    return message


_QUOTED = re.compile(r'"([^"]*)"')
_AMOUNT = re.compile(r"(-?)([€£$])(\d+(?:\.\d+)?)")
QUOTES = {"nl": ("„", '"')}


def _quotes(language: str, text: str) -> str:
    """Quoted values in ``language``'s quotes (Dutch „klarna")."""
    opening, closing = QUOTES.get(language, ('"', '"'))
    return _QUOTED.sub(lambda m: f"{opening}{m.group(1)}{closing}", text)


def _value(language: str, value: str) -> str:
    """A value taken from a message: translated when the catalogue knows it (a kind of record such as "debtor" as
    "kind of record: debtor", so that no one-word text clashes with a step id), amounts written as the language
    does."""
    translated = catalogue(language).get(f"kind of record: {value}") or translate_message(language, value)
    if translated == value:  # a value of its own ("klarna" in quotes): the language's quotes
        translated = _quotes(language, value)
    return _AMOUNT.sub(
        lambda m: f"{m.group(1)}{m.group(2)}\u00a0{fmt_number(Decimal(m.group(3)), language, decimals=2)}", translated
    )


def _fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
