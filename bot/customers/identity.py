"""Who the customer is: proven by the shop's signed customer token, or by a verification in this conversation.

A conversation is linked to a customer only on proof, never on its sender id:

- **a signed customer token** the shop's own site passes to the widget while its customer is logged in
  (`data-customer-token`, forwarded as `metadata["customer_token"]` with every message):

      <customer id>.<expiry>.<signature>
      signature = hex(HMAC-SHA256(customer_token_secret, "<customer id>.<expiry>"))

  where the customer id is the shop's own id for the customer (1–128 of `A–Z a–z 0–9 _ . @ + -`) and the
  expiry a Unix time in seconds. A malformed, tampered, forged or expired token, or any token while no
  secret is configured, proves nothing (`check_customer_token` says why, for the log);
- **a verification** in this conversation: an order number or booking reference with its matching email
  (`bot.actions.verification`), which sets the `verified_email` slot.

Nothing here does I/O; the dialogue (`bot.dialogue.memory`) decides what a proven customer may see.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

CUSTOMER_ID = re.compile(r"[A-Za-z0-9_.@+-]{1,128}")
"""What a shop's customer id may look like in a token."""
MAX_TOKEN_CHARS = 512
TOKEN_METADATA_KEY = "customer_token"
"""The message metadata key the widget forwards `data-customer-token` in."""
VERIFIED_EMAIL_SLOT = "verified_email"
"""The slot an action sets to the email it verified (an order or a booking matched it): the proof that
links a conversation to that customer until the session ends."""
CUSTOMER_SHOP_SLOT = "customer_shop"
"""The slot the dialogue sets to a proven customer's remembered shop (unset otherwise), for the actions:
hours and appointment questions without a shop use it."""
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
KNOWN_CUSTOMER_METADATA_KEY = "known_customer"
"""Where the dialogue hands the customer proven for this message to the greeting action, in the tracker's
`latest_message.metadata`: `{"kind": "shop"|"email", "id": ...}`. Set only while that action runs and never
stored; a value sent by a client is dropped (`bot.dialogue.memory.stored_metadata`)."""


@dataclass(frozen=True)
class Identity:
    """A proven customer: `shop` (the shop's customer id, from a signed token) or `email` (verified in
    this conversation)."""

    kind: Literal["shop", "email"]
    value: str

    @classmethod
    def email(cls, address: str) -> Identity:
        return cls("email", normalise_email(address))


class TokenProblem(StrEnum):
    """Why a customer token proves nothing (logged; never shown to the customer)."""

    NO_SECRET = "no_secret"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


@dataclass(frozen=True)
class TokenCheck:
    customer_id: str | None = None
    problem: TokenProblem | None = None

    @property
    def identity(self) -> Identity | None:
        return Identity("shop", self.customer_id) if self.customer_id is not None else None


def normalise_email(address: str) -> str:
    return address.strip().lower()


def _signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_customer_token(secret: str, customer_id: str, expires_at: int) -> str:
    """The token for `customer_id`, valid until `expires_at` (Unix seconds). What a shop's site does."""
    if not secret:
        raise ValueError("the customer token secret is empty — set SUPPORTBOT_CUSTOMER_TOKEN_SECRET")
    if not CUSTOMER_ID.fullmatch(customer_id):
        raise ValueError(f"customer id {customer_id!r} cannot go in a token — use 1 to 128 of A-Z a-z 0-9 _ . @ + -")
    payload = f"{customer_id}.{int(expires_at)}"
    return f"{payload}.{_signature(secret, payload)}"


def check_customer_token(token: object, secret: str | None, now: float) -> TokenCheck:
    """The customer id a token proves, or the problem that makes it prove nothing."""
    if not secret:
        return TokenCheck(problem=TokenProblem.NO_SECRET)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return TokenCheck(problem=TokenProblem.MALFORMED)
    parts = token.strip().rsplit(".", 2)
    if len(parts) != 3:
        return TokenCheck(problem=TokenProblem.MALFORMED)
    customer_id, expiry, signature = parts
    if not CUSTOMER_ID.fullmatch(customer_id) or not expiry.isdigit() or not _SIGNATURE.fullmatch(signature.lower()):
        return TokenCheck(problem=TokenProblem.MALFORMED)
    expected = _signature(secret, f"{customer_id}.{expiry}")
    if not hmac.compare_digest(expected, signature.lower()):
        return TokenCheck(problem=TokenProblem.BAD_SIGNATURE)
    if int(expiry) <= now:
        return TokenCheck(problem=TokenProblem.EXPIRED)
    return TokenCheck(customer_id=customer_id)
