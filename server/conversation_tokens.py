"""Conversation tokens: who may read a conversation's history and continue it (docs/security.md).

A conversation is named by the `sender` id its client chooses, and that id is not a secret: it appears in
logs, tickets and the database. Reading or continuing a conversation takes its token, which the server
issues with every answer:

    v1.<expiry>.<signature>        expiry: Unix seconds; signature: base64url(HMAC-SHA256(key, "<expiry>|<sender>"))

The key is derived from `secret_key` (or, unset, from a random key generated once in
`state_dir/secret_key`, mode 0600, created atomically so that every server process uses the same one).
A token is valid for `conversation_token_ttl_hours` after it was issued; every answer carries a fresh
one, so a conversation in use never expires. Nothing is stored: verifying is one HMAC, compared in
constant time.

The rule on the native channels (`POST /chat`, `WS /ws/chat`, history, feedback) is `authorize`:

- a message for a sender with no stored events starts a conversation without a token;
- anything else (a message to a conversation that has events, its history, a vote) needs a valid token
  for that sender, else 403 `conversation_token_required`, `conversation_token_invalid` (wrong sender,
  tampered, another key) or `conversation_token_expired`; history and feedback need one even for a sender
  without events, so their answers tell nothing about which conversations exist.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Header, HTTPException
from starlette.concurrency import run_in_threadpool

from bot.assistant import Assistant
from bot.config import Settings
from bot.dialogue.tracker_store import TrackerStoreError
from bot.errors import ConfigError
from server.errors import ErrorOut
from server.turns import StoreUnavailable

log = logging.getLogger("supportbot.server.tokens")

TOKEN_HEADER = "X-Conversation-Token"
SECRET_FILE = "secret_key"
MAX_TOKEN_CHARS = 256
_VERSION = "v1"
_KEY_PURPOSE = b"supportbot conversation token v1"
_TOKEN = re.compile(r"v1\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
_NEW_CONVERSATION = "start a new conversation (a new sender id)"

TokenHeader = Annotated[
    str | None,
    Header(
        alias=TOKEN_HEADER,
        description="The conversation's token: the `token` of the bot's last answer in it. Not needed for the "
        "first message of a new conversation (docs/widget.md).",
    ),
]
TOKEN_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorOut,
        "description": "The conversation's token is missing (`conversation_token_required`), not valid for this "
        "sender (`conversation_token_invalid`) or expired (`conversation_token_expired`): start a new conversation.",
    }
}
"""OpenAPI `responses=` for the routes `authorize` guards."""


class ConversationTokenRefused(HTTPException):
    """403: the request may not read or continue this conversation. `code` names why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(403, message)
        self.code = code


def _required() -> ConversationTokenRefused:
    return ConversationTokenRefused(
        "conversation_token_required",
        f"this conversation needs its token: send the `token` of the bot's last answer in it (header {TOKEN_HEADER}; "
        f"a `token` field on WebSocket frames), or {_NEW_CONVERSATION}",
    )


def _invalid() -> ConversationTokenRefused:
    return ConversationTokenRefused(
        "conversation_token_invalid", f"the conversation token is not valid for this conversation: {_NEW_CONVERSATION}"
    )


def _expired() -> ConversationTokenRefused:
    return ConversationTokenRefused(
        "conversation_token_expired", f"the conversation token has expired: {_NEW_CONVERSATION}"
    )


class ConversationTokens:
    """Issues and checks tokens bound to one sender id, valid for `ttl_seconds` from issue."""

    def __init__(self, secret: bytes, ttl_seconds: float, *, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("the conversation token secret is empty")
        self._key = hmac.new(secret, _KEY_PURPOSE, hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> ConversationTokens:
        return cls(load_secret(settings), settings.conversation_token_ttl_hours * 3600)

    def issue(self, sender: str) -> str:
        expiry = int(self.clock() + self.ttl_seconds)
        return f"{_VERSION}.{expiry}.{self._sign(sender, expiry)}"

    def check(self, sender: str, token: str) -> None:
        """Raise ConversationTokenRefused unless `token` was issued for `sender` and has not expired."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise _invalid()
        expiry = int(match.group(1))
        if not hmac.compare_digest(self._sign(sender, expiry).encode(), match.group(2).encode()):
            raise _invalid()
        if expiry < self.clock():
            raise _expired()

    def valid(self, sender: str, token: str | None) -> bool:
        if not token:
            return False
        try:
            self.check(sender, token)
        except ConversationTokenRefused:
            return False
        return True

    def _sign(self, sender: str, expiry: int) -> str:
        digest = hmac.new(self._key, f"{expiry}|{sender}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- the secret ---------------------------------------------------------------------------------------
def load_secret(settings: Settings) -> bytes:
    """`secret_key`, or the key in `state_dir/secret_key`, generated on first use."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return state_secret(settings.state_path / SECRET_FILE)


def state_secret(path: Path) -> bytes:
    """The key in `path`, created (mode 0600) when missing. Several processes starting at once agree: the
    key is written to a private file first, then linked into place, which fails if another was first."""
    if not path.exists():
        _create_secret(path)
    try:
        mode = path.stat().st_mode
        key = path.read_bytes().strip()
    except OSError as e:
        fix = "make it readable by the server, or set SUPPORTBOT_SECRET_KEY"
        raise ConfigError(f"cannot read the secret key {path}: {e} — {fix}") from e
    if len(key) < 32:
        raise ConfigError(
            f"the secret key {path} is {len(key)} bytes, fewer than 32 — delete the file to generate a new one "
            "(every conversation token issued so far stops working), or set SUPPORTBOT_SECRET_KEY"
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the secret key %s can be read by other users: chmod 600 it", path)
    return key


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)  # atomic, and never replaces a key another process wrote first
            log.info("generated the conversation token key %s", path)
        except FileExistsError:
            pass
        except OSError as e:  # a file system without hard links
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if not path.exists():
                os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)


# -- the app's tokens and the access rule -------------------------------------------------------------
_app_lock = threading.Lock()


def tokens_of(app: Any) -> ConversationTokens:
    """`app.state.conversation_tokens`, created from the app's settings on first use."""
    with _app_lock:
        tokens: ConversationTokens | None = getattr(app.state, "conversation_tokens", None)
        if tokens is None:
            tokens = ConversationTokens.from_settings(app.state.settings)
            app.state.conversation_tokens = tokens
        return tokens


async def has_events(assistant: Assistant, sender: str) -> bool:
    """Does the store hold anything of `sender`'s conversation? StoreUnavailable (503) when it cannot say."""
    try:
        return bool(await run_in_threadpool(assistant.history, sender, 1))
    except TrackerStoreError as e:
        raise StoreUnavailable() from e


async def authorize(app: Any, assistant: Assistant, sender: str, token: str | None, *, starts: bool) -> None:
    """Raise ConversationTokenRefused unless this request may use `sender`'s conversation: a valid token,
    or (`starts`: a message) no token and a conversation without events. A token sent is always checked."""
    if token:
        tokens_of(app).check(sender, token)
    elif not starts or await has_events(assistant, sender):
        raise _required()
