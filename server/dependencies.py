"""FastAPI dependencies: the settings, the assistant and its turn path, the handoff tickets."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.assistant import Assistant
from bot.config import Settings
from bot.dialogue.handoff import HandoffStore, get_handoff_store
from server.turns import TurnPath, ready_assistant


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_assistant(request: Request) -> Assistant:
    """The assistant; 503 (NotReady) while the bot is starting."""
    return ready_assistant(request.app)


async def get_turn_path(request: Request) -> TurnPath:
    """The turn path of a ready app; 503 (NotReady) while the bot is starting, before the body is read."""
    return TurnPath.of(request.app)


def get_handoffs(request: Request) -> HandoffStore:
    """`app.state.handoffs` when set (tests), else the process-wide store of the settings' database: the
    one the in-process handoff action writes to. A plain `def`: creating it may touch the database."""
    store: HandoffStore | None = getattr(request.app.state, "handoffs", None)
    return store if store is not None else get_handoff_store()


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
TurnPathDep = Annotated[TurnPath, Depends(get_turn_path)]
HandoffsDep = Annotated[HandoffStore, Depends(get_handoffs)]
