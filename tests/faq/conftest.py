from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.encoding import FakeEncoder
from bot.faq.index import NumpyIndex
from bot.faq.service import KnowledgeService
from bot.faq.thresholds import Thresholds
from bot.faq.unanswered import MemoryUnansweredStore

PAYMENTS = """\
---
title: Payments
tags: [payments]
url: https://shop.example/help/payments
---
# Payments

## Which payment methods do you accept? {#payment-methods}
Also asked:
- how can I pay
- do you take PayPal

We take cards and PayPal. Returns within {{ return_days }} days.

## When will I be charged? {#when-charged}

When you place your order.
"""

SHIPPING = """\
# Shipping

## Do you ship to Canada?
Also asked:
- delivery to canada

Not yet, sorry.
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    write(folder / "payments.md", PAYMENTS)
    write(folder / "shipping.md", SHIPPING)
    write(folder / "variables.yml", 'return_days: "30"\n')
    write(folder / "stores.yml", "stores:\n  - name: Paris\n")
    write(folder / "README.md", "# How to edit\n\n## Not an entry\n")
    return folder


ServiceFactory = Callable[..., KnowledgeService]


@pytest.fixture
def make_service(tmp_path: Path) -> ServiceFactory:
    def make(folder: Path, encoder: FakeEncoder | None = None, **kwargs: object) -> KnowledgeService:
        options: dict[str, object] = {
            "state_path": tmp_path / "state",
            "thresholds": Thresholds(answer=0.6, suggest=0.3),
            "recorder": MemoryUnansweredStore(),
            "index_factory": NumpyIndex,
        }
        options.update(kwargs)
        return KnowledgeService(folder, encoder or FakeEncoder(), **options)  # type: ignore[arg-type]

    return make
