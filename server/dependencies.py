"""FastAPI dependencies: the settings and the assistant, stored on app.state by the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from bot.assistant import Assistant
from bot.config import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_assistant(request: Request) -> Assistant:
    assistant: Assistant | None = getattr(request.app.state, "assistant", None)
    if assistant is None:
        raise HTTPException(503, "the bot is still starting; retry in a moment")
    return assistant


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
