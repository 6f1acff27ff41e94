"""`make_learner(settings, …)`: the learner over the bot's own stores and files, for the CLI and the server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bot.config import Settings
from bot.dialogue.tracker_store import make_engine
from bot.encoding import Encoder, ProgressCallback
from bot.errors import Problem, display_path
from bot.faq.entry import KnowledgeEntry
from bot.faq.loader import load_knowledge
from bot.faq.unanswered import SqlUnansweredStore
from bot.faq.validation import check_ids_and_questions, render_answers
from bot.feedback import SqlFeedbackStore
from bot.intents_loader import load_intents
from bot.learning.changes import FileChange, ProjectPaths
from bot.learning.learner import Learner, LearningConfig, Views
from bot.learning.sources import SignalSources, SqlConversationLog
from bot.learning.store import SqlSuggestionStore
from bot.learning.suggestions import SuggestConfig
from bot.learning.views import IntentParser, SnapshotKnowledge, TrainingIntents
from bot.nlu.training_data import TrainingData

if TYPE_CHECKING:
    from bot.faq.service import KnowledgeService


def learning_config(settings: Settings) -> LearningConfig:
    return LearningConfig(
        window_days=settings.learning_window_days,
        cluster_distance=settings.learning_cluster_distance,
        low_confidence=settings.learning_low_confidence,
        suggest=SuggestConfig(
            alternate_min_score=settings.learning_alternate_min_score,
            new_entry_file=display_path(
                settings.knowledge_path / settings.learning_new_entry_file, settings.project_dir
            ),
        ),
    )


def project_paths(settings: Settings) -> ProjectPaths:
    return ProjectPaths(settings.project_dir, settings.knowledge_path, settings.intents_path)


def knowledge_problems(settings: Settings) -> list[Problem]:
    """The knowledge files' problems that need no model: format, ids, duplicate questions, answer templates."""
    loaded = load_knowledge(settings.knowledge_path, settings.project_dir)
    _, template_problems = render_answers(loaded.entries, loaded.variables, {})
    return [*loaded.problems, *check_ids_and_questions(loaded.entries), *template_problems]


def make_learner(
    settings: Settings,
    *,
    encoder: Encoder | None,
    knowledge: KnowledgeService | None,
    intent_parser: IntentParser | None = None,
    on_change: Callable[[FileChange], None] | None = None,
) -> Learner:
    """Signals from the settings' database (conversations, feedback) and the unanswered log; suggestions stored
    there too; edits in the project's knowledge and intents folders. `encoder` should not be the caching one:
    customer messages stay out of the on-disk cache."""
    engine = make_engine(settings.resolved_database_url)
    unanswered = SqlUnansweredStore(engine)

    def entries() -> Sequence[KnowledgeEntry]:
        return load_knowledge(settings.knowledge_path, settings.project_dir).entries

    def training() -> TrainingData:
        return load_intents(
            settings.intents_path, root=settings.project_dir, min_examples=settings.min_examples_per_intent
        ).data

    def views() -> Views:
        snapshot = knowledge.snapshot if knowledge is not None and knowledge.loaded else None
        known = SnapshotKnowledge(snapshot.entries, snapshot.responder) if snapshot is not None else None
        intents = TrainingIntents(training(), intent_parser, min_confidence=settings.learning_low_confidence)
        return Views(known, intents)

    def intents_problems() -> list[Problem]:
        return list(
            load_intents(
                settings.intents_path, root=settings.project_dir, min_examples=settings.min_examples_per_intent
            ).problems
        )

    return Learner(
        store=SqlSuggestionStore(engine),
        sources=SignalSources(
            conversations=SqlConversationLog(engine), unanswered=unanswered.all, feedback=SqlFeedbackStore(engine)
        ),
        encoder=encoder,
        views=views,
        paths=project_paths(settings),
        entries=entries,
        training=training,
        validators={"knowledge": lambda: knowledge_problems(settings), "intents": intents_problems},
        config=learning_config(settings),
        lock_file=settings.state_path / "locks" / "learning.lock",
        on_change=on_change,
    )


def nlu_parser(settings: Settings, encoder: Encoder) -> IntentParser | None:
    """The last trained intent model as an `IntentParser` (None when nothing is trained yet)."""
    from bot import bootstrap
    from bot.encoding import encode_with_layers
    from bot.errors import NotTrainedError
    from bot.nlu.model import NluModel, find_model

    try:
        path = find_model(bootstrap.models_dir(settings))
    except NotTrainedError:
        return None
    nlu = NluModel.load(path, bootstrap.make_entities(bootstrap.load_project(settings).data, settings))

    def parse(text: str) -> tuple[str, float, bool]:
        encoded = encode_with_layers(encoder, [text], nlu.layer_names)
        result = nlu.parse(text, encoded.vectors[0], encoded.layers)
        return result.intent.name, result.intent.confidence, result.abstained

    return parse


class OneAtATime:
    """Customer messages encoded one per call: through a server's micro-batcher, single messages go to the model
    and never to the on-disk cache (they are personal), and they batch with live traffic."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder

    @property
    def fingerprint(self) -> str:
        return self._encoder.fingerprint

    @property
    def dim(self) -> int:
        return self._encoder.dim

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._encoder.encode([text]) for text in texts])
