"""Edits of a Rasa NLU YAML file as a developer would make them: `- example` lines inserted at the end of an
intent's `examples: |` block, in its indentation; comments, quoting and every other line stay as they were.

The result is read back with the project's own loader and refused (`SuggestionNotApplicable`) unless the intent
gained exactly these examples and no new problem appeared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.errors import Problem
from bot.learning.errors import SuggestionNotApplicable
from bot.learning.markdown_edits import lines_of, newline_of
from bot.nlu.training_data import TrainingData, parse_nlu_section
from bot.yamlfile import LineDict, LineList, load_yaml

_YAML_LINE = re.compile(r"[^\r\n\x85\u2028\u2029]*(?:\r\n|[\r\n\x85\u2028\u2029])|[^\r\n\x85\u2028\u2029]+\Z")
"""Lines as YAML counts them (its line numbers are what the loader reports)."""


def _examples(text: str, file: str) -> tuple[TrainingData, list[Problem], LineList | None]:
    data, problems = load_yaml(text, file)
    training = TrainingData()
    section = data.get("nlu") if isinstance(data, LineDict) else None
    if isinstance(data, LineDict) and section is not None:
        problems += parse_nlu_section(section, file, data.key_lines.get("nlu", 1), training)
    return training, problems, section if isinstance(section, LineList) else None


def _block_end(text: str, intent: str, file: str) -> int:
    """The 1-based line of the last example of `intent`'s biggest `examples: |` block in `text`."""
    _, _, section = _examples(text, file)
    best: tuple[int, int] | None = None  # (number of examples, last line)
    for item in section or []:
        if not isinstance(item, LineDict) or item.get("intent") != intent:
            continue
        block = item.get("examples")
        if not isinstance(block, str) or not block.strip():
            continue
        first = item.value_lines["examples"]
        lines = block.rstrip("\n").split("\n")
        count = sum(1 for line in lines if line.strip().startswith("-"))
        if best is None or count > best[0]:
            best = (count, first + len(lines) - 1)
    if best is None:
        raise SuggestionNotApplicable(
            f"{file} has no `examples: |` block for intent `{intent}` (moved, or written as a list of `- text:` "
            "items?): nothing was written — add the examples by hand"
        )
    return best[1]


def add_examples(text: str, intent: str, examples: Sequence[str], file: str) -> str:
    """`text` with `examples` added to the end of `intent`'s examples block."""
    before, problems, _ = _examples(text, file)
    end = _block_end(text, intent, file)
    lines = lines_of(text, _YAML_LINE)
    nl = newline_of(text)
    last = lines[end - 1]
    if not last.lstrip().startswith("-"):
        raise SuggestionNotApplicable(
            f"{file}:{end}: the last line of intent `{intent}`'s examples is not a '- ' item: nothing was written — "
            "add the examples by hand"
        )
    if not last.endswith(("\n", "\r")):
        lines[end - 1] = last + nl
    indent = last[: len(last) - len(last.lstrip())]
    lines[end:end] = [f"{indent}- {example}{nl}" for example in examples]
    result = "".join(lines)
    after, found, _ = _examples(result, file)
    old = [e.text for e in before.examples if e.intent == intent]
    new = [e.text for e in after.examples if e.intent == intent]
    errors_before = {p.message for p in problems if p.severity == "error"}
    new_errors = [p for p in found if p.severity == "error" and p.message not in errors_before]
    if sorted(new) != sorted([*old, *examples]) or new_errors:
        raise SuggestionNotApplicable(
            f"adding examples to intent `{intent}` would not read back as intended in {file}: nothing was written — "
            "add them by hand",
            tuple(new_errors),
        )
    return result
