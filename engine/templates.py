"""The built-in flow templates: the standard flows as flow documents, each describing itself.

A template is two files in ``engine/templates/``: ``<name>.json``, the flow document (format ``koppel.flow/1``) of
ordinary nodes that a user opens on the canvas and changes (the settings of its map nodes are the defaults of the
accounting contract), and ``<name>.toml``, how it presents itself: ``title``, ``description`` (a paragraph in a
shop owner's words, for the gallery, the wizard and the README), ``position`` (its place in the lists) and the setup
wizard's ``[[questions]]``. Adding a template is adding its two files; nothing here names one.
"""

from __future__ import annotations

import copy
import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ("TEMPLATE_DIR", "TEMPLATE_INFO", "TemplateInfoError", "get_template", "list_templates", "questions")

TEMPLATE_DIR = Path(__file__).with_name("templates")
_QUESTION_KEYS = {"nodes", "field", "question", "propose"}


class TemplateInfoError(ValueError):
    """A template's ``.toml`` file cannot be used (the message names the file and the problem)."""


def _read_info(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateInfoError(f"{path.name}: not valid TOML ({exc})") from exc
    problems = [f"{key} is missing or empty" for key in ("title", "description") if not str(raw.get(key) or "")]
    if not isinstance(raw.get("position", 0), int):
        problems.append("position must be a whole number")
    asked = raw.get("questions", [])
    for number, question in enumerate(asked if isinstance(asked, list) else [None], 1):
        if not isinstance(question, dict) or not {"nodes", "field", "question"} <= set(question):
            problems.append(f"question {number} needs nodes, field and question")
        elif set(question) - _QUESTION_KEYS:
            problems.append(f"question {number} has unknown keys {sorted(set(question) - _QUESTION_KEYS)}")
    unknown = set(raw) - {"title", "description", "position", "questions"}
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    if problems:
        raise TemplateInfoError(f"{path.name}: " + "; ".join(problems))
    return {
        "title": str(raw["title"]),
        "description": str(raw["description"]),
        "position": int(raw.get("position", 0)),
        "questions": [dict(q) for q in asked],
    }


def _all_info() -> dict[str, dict[str, Any]]:
    found = {path.stem: _read_info(path) for path in TEMPLATE_DIR.glob("*.toml")}
    return dict(sorted(found.items(), key=lambda item: (item[1]["position"], item[0])))


TEMPLATE_INFO: dict[str, dict[str, Any]] = _all_info()
"""Per template, in list order: ``title``, ``description``, ``position`` and ``questions`` (from its ``.toml``)."""


def questions(name: str) -> list[dict[str, Any]]:
    """The setup wizard's questions of a template: which node fields (``nodes``, ``field``) an answer sets.

    ``nodes`` lists every node of the template the answer applies to (only those the document has count);
    ``propose`` (optional) is the answer to offer: ``today``, or ``recent`` (a start date that finds records).
    """
    return [dict(question) for question in TEMPLATE_INFO.get(name, {}).get("questions", [])]


@lru_cache(maxsize=1)
def _load() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        documents[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return documents


def list_templates() -> list[str]:
    """The template names by their ``position`` (templates without a ``.toml`` after them, alphabetically)."""
    names = _load()
    known = [name for name in TEMPLATE_INFO if name in names]
    return known + sorted(name for name in names if name not in TEMPLATE_INFO)


def get_template(name: str) -> dict[str, Any]:
    """A fresh copy of the template's flow document (callers may change it).

    Raises:
        KeyError: no template has this name.
    """
    documents = _load()
    if name not in documents:
        raise KeyError(name)
    return copy.deepcopy(documents[name])
