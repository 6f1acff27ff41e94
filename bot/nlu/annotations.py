"""Rasa inline entity annotations: `[text](entity)`, `[text](entity:value)`,
`[text]{"entity": .., "value": .., "role": .., "group": ..}` and `[text][{..}, {..}]`.

The classifier sees the plain text; the spans are kept for entity extraction and tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_ANNOTATION = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    r"(?:\((?P<paren>[^()]*)\)|(?P<json>\{[^{}]*\})|(?P<list>\[\s*\{.*?\}\s*\]))"
)
# Leftovers that look like an annotation attempt: "](", "]{", "][{" or an unclosed "[x](y".
_SUSPICIOUS = re.compile(r"\]\s*[({]|\]\[\{|\[[^\]]*\]\([^)]*$|\[[^\]]*\]\{[^}]*$")


@dataclass(frozen=True)
class Annotation:
    entity: str
    value: str
    start: int
    end: int
    text: str
    role: str | None = None
    group: str | None = None


class AnnotationError(ValueError):
    """A malformed annotation; the message says what and how to fix it."""


def _from_json(raw: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise AnnotationError(
            f"annotation [{text}]{raw} is not valid JSON ({e.msg}) — "
            'write it like [Berlin]{"entity": "shop", "value": "berlin"} with double quotes'
        ) from e
    if not isinstance(data, dict) or not isinstance(data.get("entity"), str) or not data["entity"]:
        raise AnnotationError(f'annotation [{text}]{raw} has no "entity" — write it like [{text}]{{"entity": "name"}}')
    unknown = set(data) - {"entity", "value", "role", "group"}
    if unknown:
        raise AnnotationError(
            f"annotation [{text}]{raw} has unknown key(s) {', '.join(sorted(unknown))} — "
            "allowed: entity, value, role, group"
        )
    return data


def parse_example(raw: str) -> tuple[str, tuple[Annotation, ...]]:
    """Return the plain text and its annotations (offsets into the plain text)."""
    plain: list[str] = []
    annotations: list[Annotation] = []
    position = 0
    length = 0
    for match in _ANNOTATION.finditer(raw):
        before = raw[position : match.start()]
        plain.append(before)
        length += len(before)
        text = match.group("text")
        start, end = length, length + len(text)
        specs: list[dict[str, Any]]
        if match.group("paren") is not None:
            entity, _, value = match.group("paren").partition(":")
            if not entity.strip():
                raise AnnotationError(f"annotation [{text}]() names no entity — write [{text}](entity_name)")
            specs = [{"entity": entity.strip(), "value": value.strip() or None}]
        elif match.group("json") is not None:
            specs = [_from_json(match.group("json"), text)]
        else:
            try:
                items = json.loads(match.group("list"))
            except json.JSONDecodeError as e:
                raise AnnotationError(
                    f"annotation [{text}]{match.group('list')} is not a valid JSON list ({e.msg})"
                ) from e
            specs = [_from_json(json.dumps(item), text) for item in items]
        for spec in specs:
            value = spec.get("value")
            annotations.append(
                Annotation(
                    entity=spec["entity"],
                    value=str(value) if value is not None else text,
                    start=start,
                    end=end,
                    text=text,
                    role=spec.get("role"),
                    group=spec.get("group"),
                )
            )
        plain.append(text)
        length = end
        position = match.end()
    rest = raw[position:]
    plain.append(rest)
    text = "".join(plain)
    leftover = _ANNOTATION.sub("", raw)
    if _SUSPICIOUS.search(leftover):
        raise AnnotationError(
            f"malformed entity annotation in '{raw}' — use [text](entity) or "
            '[text]{"entity": "name", "value": "canonical"}'
        )
    return text, tuple(annotations)
