"""`ServingModelBuilder`: the real `ModelBuilder` of `bot.learning.retrain`, over `bot.bootstrap` — the same
validation, training and assembly as `supportbot train` and `serve` use."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import bootstrap
from bot.assistant import Assistant
from bot.config import Settings
from bot.encoding import Encoder
from bot.intents_loader import require_valid
from bot.learning.retrain import (
    MIN_PROBE_ACCURACY,
    PROBES_PER_INTENT,
    ModelCheckFailed,
    ModelRefresher,
    discard_model,
    file_lock,
)
from bot.nlu.model import model_fingerprint

log = logging.getLogger("supportbot.learning")


class ServingModelBuilder:
    """Trains with `bootstrap.train`, builds with `bootstrap.reload_assistant` (everything but the model shared
    with the serving assistant) and checks the new model on its own training examples."""

    def __init__(self, settings: Settings, serving: bootstrap.Serving, encoder: Encoder) -> None:
        self.settings = settings
        self.serving = serving
        self.encoder = encoder

    def _fingerprint(self) -> str:
        project = require_valid(bootstrap.load_project(self.settings))
        return model_fingerprint(
            project.data,
            bootstrap.extra_training_examples(self.settings),
            bootstrap.classifier_config(self.settings),
            self.encoder,
        )

    def serving_model(self) -> str | None:
        fingerprint = self.serving.assistant.nlu.meta.get("fingerprint")
        return f"nlu-{str(fingerprint)[:16]}" if fingerprint else None

    def stale(self) -> bool:
        return self._fingerprint() != self.serving.assistant.nlu.meta.get("fingerprint")

    def train(self) -> Path:
        project = require_valid(bootstrap.load_project(self.settings))
        with file_lock(self.settings.state_path / "locks" / "train.lock"):  # one process trains, the others reuse
            return bootstrap.train(self.settings, self.encoder, project=project).path

    def load(self, path: Path) -> Assistant:
        assistant = bootstrap.reload_assistant(self.settings, self.serving, encoder=self.encoder)
        assistant.warm_up()
        return assistant

    def check(self, assistant: Any) -> None:
        project = bootstrap.load_project(self.settings)
        expected = set(project.data.intents) | set(bootstrap.extra_training_examples(self.settings))
        missing = expected - set(assistant.nlu.intents)
        if missing:
            raise ModelCheckFailed(f"the model does not know the intents {sorted(missing)}")
        probes = [
            (example.text, intent)
            for intent, examples in sorted(project.data.examples_by_intent().items())
            for example in examples[:PROBES_PER_INTENT]
        ]
        if not probes:
            return
        right = 0
        for (_text, intent), parse in zip(probes, assistant.parse_many([t for t, _ in probes]), strict=True):
            ranking = [s for s in parse.intent_ranking if s.name != "nlu_fallback"]
            right += bool(ranking) and ranking[0].name == intent
        if right < MIN_PROBE_ACCURACY * len(probes):
            raise ModelCheckFailed(
                f"the model classifies {right} of {len(probes)} of its own training examples right "
                f"(needs {MIN_PROBE_ACCURACY:.0%})"
            )

    def discard(self, path: Path) -> None:
        keep = self.serving_model()
        models = bootstrap.models_dir(self.settings)
        discard_model(models, path, models / keep if keep else None)

    def swapped(self, assistant: Any) -> None:
        self.serving.assistant = assistant


def model_refresher(
    settings: Settings, serving: bootstrap.Serving, encoder: Encoder, swap: Callable[[Any], None]
) -> ModelRefresher:
    """The server's refresher: retrains over `serving` and calls `swap(assistant)` with each new assistant."""
    builder = ServingModelBuilder(settings, serving, encoder)
    return ModelRefresher(builder, swap, model=builder.serving_model())
