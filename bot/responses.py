"""Renders domain responses (Rasa `responses:` shape) into `Reply` objects.

`{slot}` placeholders are filled from slots and keyword values as Rasa does (`{{`/`}}` escape a brace);
a text containing `{{ … }}` or `{% … %}` is a Jinja template, rendered in a sandbox with StrictUndefined.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment

from bot.errors import TemplateError
from bot.types import Button, Reply

_JINJA = re.compile(r"\{\{\s|\{%")


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_EXPRESSION_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError)
"""What evaluating a template's expression with the values at hand can raise ({{ total / count }} with count 0,
{name[0]} with a number): the response cannot be rendered with these values."""


def fill_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """Rasa-style `{name}` filling; unknown names are left as written (and caught by validation)."""
    safe = _Missing({k: ("" if v is None else v) for k, v in values.items()})
    try:
        return string.Formatter().vformat(text, (), safe)
    except _EXPRESSION_ERRORS:
        return text


def placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError:
        return set()


def _condition_holds(condition: Any, slots: Mapping[str, Any]) -> bool:
    if not isinstance(condition, list):
        return True
    for item in condition:
        if (
            isinstance(item, dict)
            and item.get("type") == "slot"
            and slots.get(item.get("name", "")) != item.get("value")
        ):
            return False
    return True


class ResponseRenderer:
    """Chooses a variation (conditions, channel) and fills it."""

    def __init__(self, responses: Mapping[str, Sequence[Mapping[str, Any]]], *, seed: int | None = None) -> None:
        self.responses = responses
        self._random = random.Random(seed)
        self._jinja = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._compiled: dict[str, Template] = {}  # a template is compiled once, not on every turn

    def has(self, name: str) -> bool:
        return name in self.responses

    def variations(self, name: str, slots: Mapping[str, Any], channel: str | None = None) -> list[Mapping[str, Any]]:
        candidates = [v for v in self.responses.get(name, []) if _condition_holds(v.get("condition"), slots)]
        channel_specific = [v for v in candidates if channel and v.get("channel") == channel]
        if channel_specific:
            return channel_specific
        generic = [v for v in candidates if not v.get("channel")]
        conditioned = [v for v in generic if v.get("condition")]
        return conditioned or generic

    def render(
        self,
        name: str,
        slots: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        *,
        channel: str | None = None,
        kind: str = "response",
        extra_buttons: Sequence[Button] = (),
    ) -> Reply | None:
        slots = slots or {}
        options = self.variations(name, slots, channel)
        if not options:
            return None
        chosen = options[self._random.randrange(len(options))] if len(options) > 1 else options[0]
        context = {**slots, **(values or {})}
        text = self.fill(str(chosen.get("text") or ""), context, name)
        buttons = tuple(
            Button(fill_placeholders(str(b["title"]), context), fill_placeholders(str(b["payload"]), context))
            for b in chosen.get("buttons") or []
        ) + tuple(extra_buttons)
        custom = chosen.get("custom")
        return Reply(
            text=text,
            buttons=buttons,
            image=chosen.get("image"),
            custom=custom if isinstance(custom, dict) else None,
            kind=kind,
            response=name,
        )

    def fill(self, text: str, context: Mapping[str, Any], name: str) -> str:
        if _JINJA.search(text):
            try:
                template = self._compiled.get(text)
                if template is None:
                    template = self._compiled[text] = self._jinja.from_string(text)
                return template.render(**context)
            except (JinjaTemplateError, *_EXPRESSION_ERRORS) as e:
                raise TemplateError(f"response '{name}' failed to render: {e}") from e
        return fill_placeholders(text, context)
