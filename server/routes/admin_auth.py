"""`require_admin`: the dependency that protects every /admin route.

With `admin_token` set (SUPPORTBOT_ADMIN_TOKEN), a request must send `Authorization: Bearer <token>`.
Without it, admin routes answer only to loopback clients (127.0.0.0/8, ::1).
Failures are 401/403 HTTPExceptions with a plain message; the app's handlers (`server/errors.py`)
turn them into the JSON error shape `{"error": {"code": "unauthorized" | "forbidden", "message"}}`.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from bot.config import Settings


class AdminAuthError(HTTPException):
    """401 (no token sent) or 403 (wrong token, or not loopback without a configured token)."""

    def __init__(self, status_code: int, message: str) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
        super().__init__(status_code, detail=message, headers=headers)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _settings(request: Request) -> Settings:
    settings: Any = getattr(request.app.state, "settings", None)
    if not isinstance(settings, Settings):
        raise RuntimeError("app.state.settings is not set: create the app with the Settings it should use")
    return settings


def require_admin(request: Request) -> None:
    settings = _settings(request)
    client = request.client.host if request.client else None
    if settings.admin_token is None:
        if _is_loopback(client):
            return
        raise AdminAuthError(
            403,
            "admin endpoints answer only to this machine until SUPPORTBOT_ADMIN_TOKEN is set",
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AdminAuthError(401, "send the admin token as 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(token.strip().encode(), settings.admin_token.get_secret_value().encode()):
        raise AdminAuthError(403, "the admin token is not valid")


AdminDep = Annotated[None, Depends(require_admin)]
