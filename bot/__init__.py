"""supportbot: a self-hosted customer-support chatbot engine.

The entry point is `bot.assistant.Assistant` (also importable as `bot.Assistant`); nothing heavy
happens at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from bot.assistant import Assistant

__all__ = ["Assistant", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from bot.assistant import Assistant

        return Assistant
    raise AttributeError(name)
