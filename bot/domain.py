"""The domain: responses, slots, forms, rules and extra maps, read from Rasa 3.1 YAML.

Customer wording lives here (responses), never in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import Problem
from bot.yamlfile import LineDict, LineList


@dataclass(frozen=True)
class Rule:
    """A rule reduced to what the engine runs: on an intent, run these actions."""

    name: str
    intent: str | None
    actions: tuple[str, ...]
    activates_form: str | None = None
    submits_form: str | None = None  # condition active_loop F, then `active_loop: null`, then actions
    after_action: str | None = None  # the rule starts with this action (a follow-up rule)
    file: str = ""
    line: int = 0
    entities: tuple[str, ...] = ()  # the intent step's `entities:`: the message must carry all of them


_ANY_SLOT: Any = object()


@dataclass(frozen=True)
class MappingCondition:
    """`conditions:` of a slot mapping: the form that must be active and, optionally, the slot it asks."""

    active_loop: str | None
    requested_slot: str | None = _ANY_SLOT

    def holds(self, form: str | None, requested: str | None) -> bool:
        return self.active_loop == form and (self.requested_slot is _ANY_SLOT or self.requested_slot == requested)


@dataclass(frozen=True)
class SlotMapping:
    """One of a slot's `mappings:` (Rasa 3.1): where the slot's value comes from in a message."""

    type: str
    entity: str | None = None
    role: str | None = None
    intents: tuple[str, ...] = ()
    not_intents: tuple[str, ...] = ()
    value: Any = None
    conditions: tuple[MappingCondition, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SlotMapping:
        conditions = tuple(
            MappingCondition(c.get("active_loop"), c.get("requested_slot", _ANY_SLOT))
            for c in raw.get("conditions") or []
            if isinstance(c, Mapping)
        )
        return cls(
            str(raw.get("type")),
            raw.get("entity"),
            raw.get("role"),
            _names(raw.get("intent")),
            _names(raw.get("not_intent")),
            raw.get("value"),
            conditions,
        )

    def applies(self, form: str | None, requested: str | None) -> bool:
        """No conditions, or one of them holds for the active form and the slot it asks."""
        return not self.conditions or any(c.holds(form, requested) for c in self.conditions)

    def listens_to(self, intent: str) -> bool:
        return (not self.intents or intent in self.intents) and intent not in self.not_intents


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


@dataclass
class Domain:
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    intent_titles: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # other top-level maps (button_titles …)
    session_config: dict[str, Any] = field(default_factory=dict)
    declared_actions: list[str] = field(default_factory=list)
    response_lines: dict[str, tuple[str, int]] = field(default_factory=dict)
    _mappings: dict[str, tuple[SlotMapping, ...]] = field(default_factory=dict, repr=False, compare=False)

    def action_for_intent(
        self, intent: str, previous_action: str | None = None, entities: Iterable[str] = ()
    ) -> Rule | None:
        """The rule for this intent: a follow-up rule whose first action just ran wins; then the rule
        asking for the most of the message's `entities` (Rasa's `- intent: inform` + `entities:`)."""
        present = set(entities)
        best: Rule | None = None
        for rule in self.rules:
            if rule.intent != intent or rule.submits_form is not None or not present.issuperset(rule.entities):
                continue
            if rule.after_action is None:
                if best is None or len(rule.entities) > len(best.entities):
                    best = rule
            elif rule.after_action == previous_action:
                return rule
        return best

    def rule_activating(self, form: str) -> Rule | None:
        """The plain intent rule that starts `form` (no follow-up, no entity condition)."""
        return next(
            (
                r
                for r in self.rules
                if r.activates_form == form and r.intent and r.after_action is None and not r.entities
            ),
            None,
        )

    def mappings(self, slot: str) -> tuple[SlotMapping, ...]:
        """The slot's mappings, typed (read from the YAML's `slots:` once)."""
        cached = self._mappings.get(slot)
        if cached is None:
            raw = self.slots.get(slot, {}).get("mappings") or []
            cached = self._mappings[slot] = tuple(SlotMapping.from_dict(m) for m in raw if isinstance(m, Mapping))
        return cached

    def required_slots(self, form: str) -> list[str]:
        return [str(s) for s in self.forms.get(form, {}).get("required_slots") or []]

    def submit_actions(self, form: str) -> tuple[str, ...]:
        for rule in self.rules:
            if rule.submits_form == form:
                return rule.actions
        return ()

    def as_rasa_dict(self, intents: list[str], entities: list[str]) -> dict[str, Any]:
        """The domain as Rasa sends it to an action server."""
        actions = sorted(
            {a for r in self.rules for a in r.actions if not a.startswith("utter_")} | set(self.declared_actions)
        )
        return {
            "version": "3.1",
            "config": {"store_entities_as_slots": True},
            "session_config": self.session_config,
            "intents": intents,
            "entities": entities,
            "slots": self.slots,
            "responses": self.responses,
            "actions": actions,
            "forms": self.forms,
            **self.extras,
        }


DOMAIN_KEYS = {
    "responses",
    "slots",
    "forms",
    "rules",
    "intent_titles",
    "button_titles",
    "session_config",
    "actions",
    "intents",
    "entities",
    "stories",
    "external_events",  # the events the shop may fire (bot/proactive/events.py)
}


def _response_variations(name: str, value: Any, file: str, line: int) -> tuple[list[dict[str, Any]], list[Problem]]:
    if isinstance(value, str):
        value = [{"text": value}]
    if not isinstance(value, list) or not value:
        return [], [Problem(file, line, f"response '{name}' has no variations", "write `- text: ...` under it")]
    problems: list[Problem] = []
    variations: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict) or not any(k in item for k in ("text", "image", "custom", "buttons")):
            problems.append(Problem(file, line, f"a variation of response '{name}' has no text", "write `- text: ...`"))
            continue
        if not isinstance(item.get("buttons") or [], list):
            fix = "write `buttons:` then `- {title: Yes, payload: /affirm}` items"
            problems.append(Problem(file, line, f"the buttons of response '{name}' must be a list", fix))
            continue
        for button in item.get("buttons") or []:
            if not isinstance(button, dict) or "title" not in button or "payload" not in button:
                problems.append(
                    Problem(
                        file,
                        line,
                        f"a button of response '{name}' needs a title and a payload",
                        "write `- {title: Yes, payload: /affirm}`",
                    )
                )
        variations.append(dict(item))
    return variations, problems


def _rule_shape_problem(name: str, condition: Any, steps: list[Any], file: str, line: int) -> Problem | None:
    """What is wrong with the shape of a rule's condition and steps (None when nothing): names must be text."""
    if condition is not None and not isinstance(condition, list):
        return Problem(file, line, f"the condition of rule '{name}' must be a list", "write `- active_loop: form_name`")
    named = [(c, "active_loop") for c in condition or [] if isinstance(c, dict) and "active_loop" in c]
    for step in steps:
        if not isinstance(step, dict):
            continue
        named += [(step, key) for key in ("intent", "action", "active_loop") if key in step]
        if step.get("entities") is not None and not isinstance(step["entities"], list):
            return Problem(file, line, f"`entities:` of rule '{name}' must be a list", "write `- entity_name` items")
    for holder, key in named:
        text = holder[key]
        if not isinstance(text, str) and not (key == "active_loop" and text is None):
            return Problem(
                file, line, f"`{key}:` in rule '{name}' must be a name, not {text!r}", f"write `{key}: a_name`"
            )
    return None


def _parse_rule(item: LineDict, file: str, line: int) -> tuple[Rule | None, list[Problem]]:
    name = str(item.get("rule", f"rule at line {line}"))
    steps = item.get("steps")
    if not isinstance(steps, list) or not steps:
        return None, [Problem(file, line, f"rule '{name}' has no steps", "add `steps:` with an intent and an action")]
    shape = _rule_shape_problem(name, item.get("condition"), steps, file, line)
    if shape is not None:
        return None, [shape]
    condition = item.get("condition") or []
    loop_condition = next((c["active_loop"] for c in condition if isinstance(c, dict) and c.get("active_loop")), None)
    intent_step = next((s for s in steps if isinstance(s, dict) and "intent" in s), {})
    intent = intent_step.get("intent")
    raw_entities = intent_step.get("entities") or []
    entities = tuple(
        str(next(iter(e))) if isinstance(e, dict) and e else str(e) for e in raw_entities if isinstance(e, str | dict)
    )
    actions: list[str] = []
    after_action: str | None = None
    first = steps[0] if isinstance(steps[0], dict) else {}
    if "action" in first and intent is not None and not loop_condition:
        after_action = str(first["action"])
        steps = steps[1:]
    activates: str | None = None
    submits: str | None = None
    after_null = False
    for step in steps:
        if not isinstance(step, dict):
            continue
        if "action" in step:
            if loop_condition and not after_null and step["action"] == loop_condition:
                continue
            actions.append(str(step["action"]))
        if "active_loop" in step:
            if step["active_loop"] is None and loop_condition:
                submits = loop_condition
                after_null = True
            elif step["active_loop"]:
                activates = str(step["active_loop"])
    if intent is None and submits is None:
        return None, []  # a rule shape the engine does not need (e.g. conversation_start rules)
    if activates and activates in actions:
        actions.remove(activates)
    return Rule(name, intent, tuple(actions), activates, submits, after_action, file, line, entities), []


_LIST_FIELDS = {"slots": "mappings", "forms": "required_slots"}


def _slot_or_form_problem(key: str, name: Any, spec: Any, file: str, line: int) -> Problem | None:
    """What is wrong with the shape of one slot or form (None when nothing)."""
    kind = key[:-1]
    if spec is not None and not isinstance(spec, dict):
        return Problem(file, line, f"{kind} '{name}' must be a mapping", f"write its fields (type, …) under `{name}:`")
    listed = _LIST_FIELDS[key]
    if spec and spec.get(listed) is not None and not isinstance(spec[listed], list):
        return Problem(file, line, f"'{listed}' of {kind} '{name}' must be a list", "write `- ...` items under it")
    return None


def parse_domain_section(key: str, value: Any, file: str, line: int, domain: Domain) -> list[Problem]:
    problems: list[Problem] = []
    if key == "responses":
        if not isinstance(value, LineDict):
            return [Problem(file, line, "'responses' must be a mapping", "write `utter_name:` entries under it")]
        for name, variations in value.items():
            name_line = value.key_lines[name]
            if name in domain.responses:
                first_file, first_line = domain.response_lines[name]
                problems.append(
                    Problem(
                        file,
                        name_line,
                        f"response '{name}' is defined twice (first at {first_file}:{first_line})",
                        "keep one definition",
                    )
                )
                continue
            parsed, found = _response_variations(name, variations, file, name_line)
            problems.extend(found)
            domain.responses[name] = parsed
            domain.response_lines[name] = (file, name_line)
    elif key in ("slots", "forms"):
        if not isinstance(value, dict):
            return [Problem(file, line, f"'{key}' must be a mapping", f"write `{key}:` with named entries")]
        for name, spec in value.items():
            name_line = value.key_lines.get(name, line) if isinstance(value, LineDict) else line
            problem = _slot_or_form_problem(key, name, spec, file, name_line)
            if problem is not None:
                problems.append(problem)
            else:
                getattr(domain, key)[name] = dict(spec or {})
    elif key == "rules":
        if not isinstance(value, LineList):
            return [Problem(file, line, "'rules' must be a list", "write `- rule: name` items")]
        for item, item_line in zip(value, value.item_lines, strict=True):
            if not isinstance(item, LineDict):
                problems.append(Problem(file, item_line, "a rule must be a mapping", "write `- rule: name`"))
                continue
            rule, found = _parse_rule(item, file, item_line)
            problems.extend(found)
            if rule:
                domain.rules.append(rule)
    elif key == "intent_titles":
        if isinstance(value, dict):
            domain.intent_titles.update({str(k): str(v) for k, v in value.items()})
    elif key == "session_config":
        if isinstance(value, dict):
            domain.session_config.update(value)
    elif key == "actions":
        if isinstance(value, list):
            domain.declared_actions.extend(str(a) for a in value)
    elif key in ("intents", "entities", "stories"):
        pass  # accepted for Rasa compatibility; derived from the data instead
    else:
        existing = domain.extras.setdefault(key, {})
        if isinstance(existing, dict) and isinstance(value, dict):
            existing.update(value)
        else:
            domain.extras[key] = value
    return problems


def validate_domain(domain: Domain, intents: set[str]) -> list[Problem]:
    """Responses referenced by rules must exist; rules must name known intents."""
    problems: list[Problem] = []
    for rule in domain.rules:
        known = rule.intent in intents or rule.intent == "nlu_fallback" or str(rule.intent).startswith("EXTERNAL_")
        if rule.intent and not known:  # EXTERNAL_ intents come from events, not from customers
            problems.append(
                Problem(
                    rule.file,
                    rule.line,
                    f"rule '{rule.name}' uses intent '{rule.intent}', which has no training examples",
                    "add the intent to intents/nlu or fix the name",
                )
            )
        for action in rule.actions:
            if action.startswith("utter_") and action not in domain.responses:
                problems.append(
                    Problem(
                        rule.file,
                        rule.line,
                        f"rule '{rule.name}' uses response '{action}', which is not defined",
                        f"add `{action}:` under `responses:`",
                    )
                )
        if rule.activates_form and rule.activates_form not in domain.forms:
            problems.append(
                Problem(
                    rule.file,
                    rule.line,
                    f"rule '{rule.name}' activates form '{rule.activates_form}', which is not defined",
                    "add it under `forms:`",
                )
            )
    return problems
