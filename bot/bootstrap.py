"""Builds the pieces of a running bot from `Settings`: encoder, validated data, trained model,
dialogue engine and `Assistant`. The CLI, the server and tests all go through here."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.assistant import Assistant, AssistantOptions
from bot.config import Settings
from bot.coordination.locks import SenderLocks
from bot.coordination.store import CoordinatedTrackerStore
from bot.coordination.wiring import make_sender_locks
from bot.customers.wiring import customer_memory
from bot.dialogue.action_runner import ActionRunner, InProcessActionRunner, RemoteActionRunner
from bot.dialogue.engine import DialogueEngine, KnowledgeAnswerer
from bot.dialogue.tracker_store import SqlTrackerStore, TrackerStore
from bot.domain import Domain, Rule
from bot.encoding import CachedEncoder, Encoder, ProgressCallback, build_encoder
from bot.errors import ConfigError, ModelError, NotTrainedError, TrainingDataError
from bot.intents_loader import IntentsProject, load_intents, require_valid
from bot.nlu.classifier import ClassifierConfig
from bot.nlu.entities import EntityPipeline, annotation_synonyms, build_entity_pipeline
from bot.nlu.language import LanguageDetector
from bot.nlu.model import NluModel, TrainResult, find_model, model_fingerprint, train_nlu
from bot.nlu.training_data import TrainingData
from bot.products.advisor import ProductAdvisor
from bot.products.cards import CardLinks
from bot.responses import ResponseRenderer
from bot.sentiment import SentimentModel
from bot.sentiment.pipeline import load_for_settings as load_sentiment
from bot.sentiment.pipeline import train_for_settings as train_sentiment

if TYPE_CHECKING:
    from bot.faq.service import KnowledgeService
    from bot.products.service import ProductService

log = logging.getLogger(__name__)
SNAPSHOT = "snapshot.json"


def models_dir(settings: Settings) -> Path:
    return settings.state_path / "models"


def make_encoder(settings: Settings) -> Encoder:
    return build_encoder(
        settings.model_path,
        threads=settings.encoder_threads,
        batch_size=settings.encoder_batch_size,
        cache_file=settings.embedding_cache_path,
        fused=settings.encoder_fused,
    )


def query_encoder(encoder: Encoder) -> Encoder:
    """Customer messages skip the on-disk cache: they are rarely repeated, and they are personal."""
    return encoder.inner if isinstance(encoder, CachedEncoder) else encoder


def classifier_config(settings: Settings) -> ClassifierConfig:
    return ClassifierConfig(
        threshold=settings.nlu_threshold,
        ambiguity_margin=settings.nlu_ambiguity_margin,
        layer_features=tuple(settings.nlu_layer_features),
    )


def load_project(settings: Settings) -> IntentsProject:
    return load_intents(settings.intents_path, root=settings.project_dir, min_examples=settings.min_examples_per_intent)


def make_entities(data: TrainingData, settings: Settings) -> EntityPipeline:
    return build_entity_pipeline(
        data,
        order_number_pattern=settings.order_number_pattern,
        order_number_format=settings.order_number_format,
        timezone=settings.timezone,
        languages=settings.date_languages,
    )


def make_language_detector(settings: Settings) -> LanguageDetector | None:
    """lingua over `detect_languages` (None when there is nothing else than the bot's own languages)."""
    if not set(settings.detect_languages) - set(settings.languages):
        return None
    from bot.nlu.language import LinguaLanguageDetector

    return LinguaLanguageDetector(tuple(settings.detect_languages), min_confidence=settings.language_min_confidence)


# -- snapshot of the last valid data: serving keeps working when a file is broken ------------------
def _save_snapshot(directory: Path, project: IntentsProject) -> None:
    data = project.data
    payload = {
        "domain": {
            "responses": project.domain.responses,
            "slots": project.domain.slots,
            "forms": project.domain.forms,
            "rules": [asdict(r) for r in project.domain.rules],
            "intent_titles": project.domain.intent_titles,
            "extras": project.domain.extras,
            "session_config": project.domain.session_config,
            "declared_actions": project.domain.declared_actions,
        },
        "entities": {
            "synonyms": {**annotation_synonyms(data), **data.synonyms},
            "regexes": data.regexes,
            "lookups": data.lookups,
            "annotated": sorted({(a.entity, a.text) for e in data.examples for a in e.entities}),
        },
    }
    tmp = directory / f".{SNAPSHOT}.tmp"
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1))
    tmp.replace(directory / SNAPSHOT)


def _load_snapshot(directory: Path) -> tuple[Domain, TrainingData]:
    payload = json.loads((directory / SNAPSHOT).read_text())
    d = payload["domain"]
    domain = Domain(
        responses=d["responses"],
        slots=d["slots"],
        forms=d["forms"],
        rules=[Rule(**{**r, "actions": tuple(r["actions"])}) for r in d["rules"]],
        intent_titles=d["intent_titles"],
        extras=d["extras"],
        session_config=d["session_config"],
        declared_actions=d["declared_actions"],
    )
    e = payload["entities"]
    data = TrainingData(synonyms=e["synonyms"], regexes=e["regexes"], lookups=dict(e["lookups"]))
    for entity, text in e["annotated"]:
        data.lookups.setdefault(entity, []).append(text)
    return domain, data


# -- training --------------------------------------------------------------------------------------
FAQ_INTENT = "faq"


def extra_training_examples(settings: Settings) -> dict[str, list[str]]:
    """The knowledge base's questions and alternates become examples of the `faq` intent, so the
    classifier learns the boundary between task requests and knowledge questions from data.
    Broken knowledge files contribute nothing here (their errors are reported by the knowledge base)."""
    from bot.faq.loader import load_knowledge

    if not settings.knowledge_path.is_dir():
        return {}
    loaded = load_knowledge(settings.knowledge_path, settings.project_dir)
    phrasings = [p for entry in loaded.entries for p in entry.phrasings]
    return {FAQ_INTENT: phrasings} if phrasings else {}


def make_knowledge(settings: Settings, encoder: Encoder) -> KnowledgeService | None:
    """The knowledge service, loaded; None when there is no knowledge folder."""
    from bot.faq.service import KnowledgeService

    if not settings.knowledge_path.is_dir():
        log.warning("no knowledge folder at %s; the knowledge base is off", settings.knowledge_path)
        return None
    service = KnowledgeService.from_settings(settings, encoder)
    service.load()
    return service


def make_products(settings: Settings, encoder: Encoder) -> ProductService | None:
    """The product service over the catalogue `catalogue_provider` returns; None when it is unset."""
    from bot.products.catalogue import Catalogue
    from bot.products.service import ProductService

    provider = settings.catalogue_provider.strip()
    if not provider:
        return None
    module_name, _, attr = provider.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr or "catalogue")
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"catalogue_provider {provider!r} cannot be loaded ({type(e).__name__}: {e}) — set "
            "SUPPORTBOT_CATALOGUE_PROVIDER to `module:function` returning a bot.products.Catalogue, or to an "
            "empty value to turn product search off"
        ) from e
    catalogue = factory(settings)
    if not isinstance(catalogue, Catalogue):
        raise ConfigError(
            f"catalogue_provider {provider!r} returned {type(catalogue).__name__}, not a bot.products.Catalogue — "
            "return an object with products(), product(), pairings(), co_purchases() and colour_families()"
        )
    return ProductService(catalogue, encoder)


def knowledge_answerer(service: KnowledgeService) -> KnowledgeAnswerer:
    return service.answer


def train(
    settings: Settings,
    encoder: Encoder,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    on_stage: Callable[[str], None] | None = None,
    project: IntentsProject | None = None,
) -> TrainResult:
    """Validate, then train only if data, settings or model changed. Raises TrainingDataError."""
    project = require_valid(project or load_project(settings))
    directory = models_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    result = train_nlu(
        project.data,
        encoder,
        directory,
        config=classifier_config(settings),
        extra=extra_training_examples(settings),
        force=force,
        progress=progress,
        on_stage=on_stage,
        store=settings.model_store_path,
    )
    _save_snapshot(result.path, project)
    train_sentiment(settings, encoder, force=force)  # reused when unchanged (docs/sentiment.md)
    return result


def model_is_current(settings: Settings, encoder: Encoder, project: IntentsProject) -> Path | None:
    fingerprint = model_fingerprint(
        project.data, extra_training_examples(settings), classifier_config(settings), encoder
    )
    path = models_dir(settings) / f"nlu-{fingerprint[:16]}"
    return path if (path / SNAPSHOT).exists() else None


# -- serving ---------------------------------------------------------------------------------------
def make_tracker_store(settings: Settings, sender_locks: SenderLocks | None = None) -> TrackerStore:
    """The SQL tracker store. Its per-sender lock holds across every process using this state folder; with
    `sender_locks` (a cluster's Redis locks) it is theirs instead, across every node."""
    if sender_locks is not None:
        return CoordinatedTrackerStore(SqlTrackerStore.from_url(settings.resolved_database_url), sender_locks)
    return SqlTrackerStore.from_url(
        settings.resolved_database_url, lock_file=settings.state_path / "locks" / "conversations.lock"
    )


def make_runner(settings: Settings) -> ActionRunner:
    if settings.action_endpoint:
        return RemoteActionRunner.from_settings(settings)
    return InProcessActionRunner(settings.action_package)


def prepare_actions(settings: Settings) -> None:
    """Let the in-process action package set itself up once before several server processes start: its
    optional `prepare(settings)` function (the reference shop creates and seeds its database there, so
    workers never race to do it). Nothing to do for a remote action server."""
    if settings.action_endpoint:
        return
    try:
        package = importlib.import_module(settings.action_package)
    except ImportError as e:
        raise ConfigError(
            f"action_package {settings.action_package!r} cannot be imported ({e}) — set SUPPORTBOT_ACTION_PACKAGE "
            "to an importable package of rasa-sdk actions, or unset it for the reference shop's bot.actions"
        ) from e
    prepare = getattr(package, "prepare", None)
    if callable(prepare):
        prepare(settings)


def load_assistant(
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    tracker_store: TrackerStore | None = None,
    runner: ActionRunner | None = None,
    knowledge: KnowledgeAnswerer | None = None,
    products: ProductAdvisor | None = None,
    sender_locks: SenderLocks | None = None,
    auto_train: bool = True,
    on_problems: Callable[[Sequence[Any]], None] | None = None,
) -> Assistant:
    """The assistant for the current data. Stale model + valid data: trains first (when allowed).
    Broken data: logs the problems and serves the last good model and domain."""
    encoder = encoder or make_encoder(settings)
    project = load_project(settings)
    path: Path | None = None
    if project.errors:
        log.error("intents data has errors; serving the last good model:\n%s", TrainingDataError(project.problems))
        if on_problems:
            on_problems(project.errors)
        path = find_model(models_dir(settings))
        domain, data = _load_snapshot(path)
    else:
        path = model_is_current(settings, encoder, project)
        if path is None:
            if not auto_train:
                raise NotTrainedError("the model is out of date — run `supportbot train`")
            path = train(settings, encoder, project=project).path
        domain, data = project.domain, project.data
    nlu = NluModel.load(path, make_entities(data, settings), make_language_detector(settings))
    renderer = ResponseRenderer(domain.responses)
    engine = DialogueEngine(
        domain,
        renderer,
        runner if runner is not None else make_runner(settings),
        intents=nlu.intents,
        entities=sorted(nlu.entities.entity_names),
        knowledge=knowledge,
        languages=settings.languages,
        foreign_min_confidence=settings.foreign_min_confidence,
        products=products,
        links=CardLinks(settings.product_page_url, settings.product_image_url),
        customers=customer_memory(settings),
    )
    if sender_locks is None and tracker_store is None:
        sender_locks = make_sender_locks(settings)  # None on one machine: the store's own lock
    store = tracker_store or make_tracker_store(settings, sender_locks)
    options = AssistantOptions(
        max_message_chars=settings.max_message_chars,
        session_expiration_minutes=settings.session_expiration_minutes,
        carry_over_slots=settings.carry_over_slots,
        slots_defaults=_slot_defaults(domain.slots),
    )
    return Assistant(
        encoder=query_encoder(encoder),
        nlu=nlu,
        engine=engine,
        renderer=renderer,
        tracker_store=store,
        options=options,
        sentiment=sentiment_model(settings, encoder),
        sender_locks=sender_locks,
    )


def sentiment_model(settings: Settings, encoder: Encoder) -> SentimentModel | None:
    """The sentiment model beside the NLU one (docs/sentiment.md); None when it is not trained or cannot be
    loaded: the bot then answers as it did without one."""
    try:
        return load_sentiment(settings, encoder)
    except ModelError as e:
        log.warning("no sentiment: %s", e)
        return None


def _slot_defaults(slots: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: spec.get("initial_value") for name, spec in slots.items()}


@dataclass
class Serving:
    """Everything a running bot holds: the assistant and, when there is one, the knowledge service."""

    assistant: Assistant
    knowledge: KnowledgeService | None
    products: ProductService | None = None


def load_serving(settings: Settings, *, encoder: Encoder | None = None, **kwargs: Any) -> Serving:
    """Encoder, knowledge base and assistant, sharing one encoder (one forward pass per message)."""
    encoder = encoder or make_encoder(settings)
    knowledge = make_knowledge(settings, encoder)
    answerer = knowledge_answerer(knowledge) if knowledge else None
    products = make_products(settings, encoder)
    advisor = products.advisor if products else None
    assistant = load_assistant(settings, encoder=encoder, knowledge=answerer, products=advisor, **kwargs)
    return Serving(assistant, knowledge, products)


def reload_assistant(settings: Settings, serving: Serving, *, encoder: Encoder) -> Assistant:
    """The model swap (`bot/learning/retrain.py`): an assistant for the data and trained model as they are now,
    sharing the serving one's encoder, conversation store, action runner, knowledge base, product search and
    language detector. Raises NotTrainedError unless the model for the current data is trained."""
    current = serving.assistant
    assistant = load_assistant(
        settings,
        encoder=encoder,
        tracker_store=current.tracker_store,
        sender_locks=current.sender_locks,
        runner=current.engine.runner,
        knowledge=knowledge_answerer(serving.knowledge) if serving.knowledge else None,
        products=serving.products.advisor if serving.products else None,
        auto_train=False,
    )
    assistant.nlu.language = current.nlu.language
    return assistant
