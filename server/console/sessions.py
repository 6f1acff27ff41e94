"""Console sign-in sessions (placeholder until accounts land): sets `request.state.console_staff`."""

from __future__ import annotations

from fastapi import FastAPI

from bot.config import Settings


def install_sessions(app: FastAPI, settings: Settings) -> None:
    """Install the console's session middleware on `app` (nothing yet)."""
