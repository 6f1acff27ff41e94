"""The sentiment model for a project's settings: train it at `supportbot train`, load it to serve.

`train_for_settings` is what the train pipeline calls after the NLU model (`bot.bootstrap.train`);
`load_for_settings` is what the assistant's builder calls. A project without `intents/sentiment/support.csv`
has no sentiment model (both return None) and the bot works as before.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import Settings
from bot.encoding import Encoder, ProgressCallback
from bot.errors import ConfigError, NotTrainedError
from bot.sentiment.data import SUPPORT_FILE, SentimentExample, read_jsonl, read_support_csv
from bot.sentiment.model import LexiconEmbeddingSentimentModel
from bot.sentiment.training import (
    SentimentTrainingConfig,
    SentimentTrainResult,
    find_sentiment_model,
    load_sentiment_model,
    sentiment_fingerprint,
    train_sentiment,
)

log = logging.getLogger(__name__)


def _models_dir(settings: Settings) -> Path:
    return settings.state_path / "models"


def support_file(settings: Settings) -> Path:
    return settings.intents_path / SUPPORT_FILE


def training_examples(settings: Settings) -> tuple[list[SentimentExample], list[SentimentExample]] | None:
    """(support, general) examples; None when the project has no support file. Raises TrainingDataError for
    a bad row and ConfigError when `sentiment_general_data` names a missing file."""
    path = support_file(settings)
    if not path.is_file():
        return None
    support = read_support_csv(path, settings.project_dir)
    general: list[SentimentExample] = []
    if settings.sentiment_general_data is not None:
        general_path = settings.path(settings.sentiment_general_data)
        if not general_path.is_file():
            raise ConfigError(
                f"sentiment_general_data {str(general_path)!r} does not exist — point "
                'SUPPORTBOT_SENTIMENT_GENERAL_DATA at a JSONL file of {"text", "label"} rows, or unset it'
            )
        general = read_jsonl(general_path, settings.project_dir)
    return support, general


def train_for_settings(
    settings: Settings, encoder: Encoder, *, force: bool = False, progress: ProgressCallback | None = None
) -> SentimentTrainResult | None:
    """Train (or reuse) the sentiment head of this project; None when it has no support file."""
    examples = training_examples(settings)
    if examples is None:
        log.info("no %s: no sentiment model", support_file(settings))
        return None
    support, general = examples
    directory = _models_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    return train_sentiment(
        support, encoder, directory, general=general, force=force, progress=progress, store=settings.model_store_path
    )


def load_for_settings(settings: Settings, encoder: Encoder) -> LexiconEmbeddingSentimentModel | None:
    """The sentiment model trained for the current data, else the last good one; None when the project has no
    support file or nothing was ever trained (the bot then works without sentiment)."""
    examples = training_examples(settings)
    if examples is None:
        return None
    fingerprint = sentiment_fingerprint(*examples, SentimentTrainingConfig(), encoder)
    try:
        path = find_sentiment_model(_models_dir(settings), fingerprint)
    except NotTrainedError:
        log.warning("no sentiment model yet — run `supportbot train`; the bot answers without sentiment")
        return None
    if fingerprint[:16] not in path.name:
        log.warning("the sentiment model is out of date — run `supportbot train`; serving the last good one")
    return load_sentiment_model(path, encoder)
