"""intents/domain/tasks.yml and bot/actions agree: every response a handler names exists, every form slot is asked."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk.executor import ActionExecutor

from .conftest import ROOT


def _registered() -> set[str]:
    executor = ActionExecutor()
    executor.register_package("bot.actions")
    return set(executor.actions)


def test_every_response_named_in_the_handlers_exists(domain: dict[str, Any]) -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "bot" / "actions").glob("*.py"))
    named = set(re.findall(r'"(utter_[a-z_]+)"', source))
    missing = sorted(n for n in named if n not in domain["responses"])
    assert not missing, f"add these responses to intents/domain/tasks.yml: {missing}"
    prefixes = set(re.findall(r'f"(utter_[a-z_]+)\{', source))
    for prefix in prefixes:
        assert any(r.startswith(prefix) for r in domain["responses"]), prefix


def test_every_form_slot_has_a_question(domain: dict[str, Any]) -> None:
    actions = _registered()
    for form, spec in domain["forms"].items():
        for slot in spec["required_slots"]:
            asks = {f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"} & set(domain["responses"])
            asks |= {f"action_ask_{form}_{slot}", f"action_ask_{slot}"} & actions
            assert asks, f"form {form} cannot ask for {slot}"
        assert f"validate_{form}" in actions


def test_every_custom_action_of_the_rules_is_registered(domain: dict[str, Any]) -> None:
    actions = _registered()
    for rule in domain["rules"]:
        for step in rule["steps"]:
            name = step.get("action")
            if name and name.startswith("action_"):
                assert name in actions, f"rule '{rule['rule']}' runs {name}, which no handler registers"
    assert set(domain["actions"]) <= actions
