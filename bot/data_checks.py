"""Data checks `supportbot validate` runs on top of the loader's own validation.

The loader already reports, as errors, an example listed in two intents and an intent with fewer
examples than `min_examples_per_intent`; rules that name a missing response or form. These checks
add what needs the model or a wider view, all as warnings:

- near-duplicate examples across intents (embedding cosine >= 0.95): likely confusion;
- intents with fewer examples than recommended (10) though enough to train;
- entity annotations that no extractor produces on the annotated example;
- responses referenced but not defined: by forms (`utter_ask_<slot>`), by the engine's built-in
  replies, by button payloads naming unknown intents, and by the in-process handlers' code (the
  `action_package` setting).

It sits above the NLU, the loaders and the bootstrap it reads through, next to the CLI that runs it.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from bot import bootstrap
from bot.config import Settings
from bot.encoding import Encoder
from bot.errors import Problem
from bot.intents_loader import IntentsProject
from bot.nlu.entities import EntityPipeline
from bot.nlu.training_data import Example

NEAR_DUPLICATE_COSINE = 0.95
RECOMMENDED_EXAMPLES = 10
ENGINE_RESPONSES = (  # replies bot.dialogue.engine and bot.assistant utter themselves
    "utter_default",
    "utter_ask_rephrase",
    "utter_ask_affirmation",
    "utter_internal_error",
    "utter_form_reminder",
    "utter_form_stopped",
    "utter_conversation_paused",
    "utter_empty_message",
    "utter_message_too_long",
    "utter_restart",
)
_RESPONSE_LITERAL = re.compile(r"""["'](utter_[a-z0-9_]+)["']""")
_PAYLOAD_INTENT = re.compile(r"^/([A-Za-z0-9_]+)")


def check_training_data(
    project: IntentsProject, encoder: Encoder, *, settings: Settings | None = None
) -> list[Problem]:
    """Warnings about the intents data (see the module docstring); never raises for bad data."""
    settings = settings or Settings()
    problems = near_duplicates(project.data.examples, encoder)
    problems += few_examples(project)
    problems += unproduced_annotations(project.data.examples, bootstrap.make_entities(project.data, settings))
    problems += missing_responses(project, handler_files(settings))
    return problems


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def near_duplicates(
    examples: Sequence[Example], encoder: Encoder, threshold: float = NEAR_DUPLICATE_COSINE
) -> list[Problem]:
    """Pairs of examples of different intents whose embeddings are nearly identical. Exact
    duplicates are left to the loader, which reports them as errors."""
    if len(examples) < 2:
        return []
    vectors = np.asarray(encoder.encode([e.text for e in examples]), dtype=np.float32)
    similarity = vectors @ vectors.T
    labels = np.array([e.intent for e in examples])
    mask = np.triu(similarity >= threshold, k=1) & (labels[:, None] != labels[None, :])
    problems = []
    for i, j in zip(*np.nonzero(mask), strict=True):
        first, second = examples[int(i)], examples[int(j)]
        if _normalise(first.text) == _normalise(second.text):
            continue
        problems.append(
            Problem(
                second.file,
                second.line,
                f"'{second.text}' ({second.intent}) is nearly the same as '{first.text}' ({first.intent}) "
                f"at {first.file}:{first.line} (cosine {similarity[i, j]:.2f}); the classifier will confuse them",
                "keep the example in one intent, or reword one of them so the intents differ",
                "warning",
            )
        )
    return problems


def few_examples(project: IntentsProject, recommended: int = RECOMMENDED_EXAMPLES) -> list[Problem]:
    counts = {name: len(items) for name, items in project.data.examples_by_intent().items()}
    problems = []
    for name, (file, line) in sorted(project.data.intent_lines.items()):
        count = counts.get(name, 0)
        if 0 < count < recommended:
            problems.append(
                Problem(
                    file,
                    line,
                    f"intent '{name}' has only {count} examples; {recommended} or more make it reliable",
                    f"add {recommended - count} or more varied examples (different words, lengths, typos)",
                    "warning",
                )
            )
    return problems


def unproduced_annotations(examples: Iterable[Example], pipeline: EntityPipeline) -> list[Problem]:
    """Annotations the entity pipeline does not find again in their own example: the entity is
    unknown to every extractor, or another entity wins the span."""
    names = pipeline.entity_names
    problems = []
    for example in examples:
        if not example.entities:
            continue
        found = pipeline.extract(example.text)
        for annotation in example.entities:
            label = f"[{annotation.text}]({annotation.entity})"
            if annotation.entity not in names:
                problems.append(
                    Problem(
                        example.file,
                        example.line,
                        f"entity '{annotation.entity}' in {label} is produced by no extractor",
                        f"add a `lookup:` or `regex:` for it, or use a built-in entity ({', '.join(sorted(names))})",
                        "warning",
                    )
                )
                continue
            same = [e for e in found if e.entity == annotation.entity]
            if not any(e.start < annotation.end and annotation.start < e.end for e in same):
                others = ", ".join(f"{e.entity}='{e.text or e.value}'" for e in found) or "nothing"
                problems.append(
                    Problem(
                        example.file,
                        example.line,
                        f"the extractors do not find {label} in '{example.text}' (they find {others})",
                        "check the annotation span, or add the value to a `lookup:` table",
                        "warning",
                    )
                )
    return problems


def handler_files(settings: Settings) -> list[Path]:
    """Source files of the in-process handler package (none when a remote action server is used)."""
    if settings.action_endpoint:
        return []
    try:
        spec = importlib.util.find_spec(settings.action_package)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(p for folder in spec.submodule_search_locations for p in Path(folder).rglob("*.py"))


def missing_responses(project: IntentsProject, code_files: Sequence[Path] = ()) -> list[Problem]:
    domain = project.domain
    defined = set(domain.responses)
    where = _domain_file(project)
    problems: list[Problem] = []

    def missing(name: str, file: str, line: int | None, by: str) -> None:
        problems.append(
            Problem(
                file,
                line,
                f"response '{name}' is used by {by} but not defined",
                f"add `{name}:` under `responses:`",
                "warning",
            )
        )

    for name in ENGINE_RESPONSES:
        if name not in defined:
            missing(name, where, None, "the dialogue engine")
    for form, spec in sorted(domain.forms.items()):
        required = spec.get("required_slots") or []
        if isinstance(required, dict):
            required = list(required)
        for slot in required:
            asks = {f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"}
            if not asks & defined and f"action_ask_{slot}" not in domain.declared_actions:
                missing(f"utter_ask_{slot}", where, None, f"form '{form}' to ask for slot '{slot}'")
    intents = set(project.data.intents) | {"restart", "nlu_fallback"}
    for name, variations in sorted(domain.responses.items()):
        file, line = domain.response_lines.get(name, (where, 0))
        for variation in variations:
            for button in variation.get("buttons") or []:
                match = _PAYLOAD_INTENT.match(str(button.get("payload", "")))
                if match and match.group(1) not in intents:
                    problems.append(
                        Problem(
                            file,
                            line,
                            f"a button of '{name}' sends intent '{match.group(1)}', which has no training examples",
                            "fix the payload or add the intent",
                            "warning",
                        )
                    )
    for path in code_files:
        text = path.read_text(encoding="utf-8")
        for number, source_line in enumerate(text.splitlines(), 1):
            for match in _RESPONSE_LITERAL.finditer(source_line):
                if match.group(1) not in defined:
                    missing(match.group(1), str(path), number, "a handler")
    return problems


def _domain_file(project: IntentsProject) -> str:
    for file, _line in project.domain.response_lines.values():
        return file
    return "intents/"
