"""Meta-tests: every setting and every CLI command is documented (datasette's habit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert f"`{name}`" in page and f"`SUPPORTBOT_{name.upper()}`" in page, (
        f"setting {name} is missing from docs/configuration.md — run scripts/configuration_doc.py"
    )


def test_every_setting_has_a_description() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def _commands() -> list[str]:
    from bot.cli import _register_plugins, app

    _register_plugins()
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    names += [g.name or "" for g in app.registered_groups]
    return sorted(set(names))


def test_every_cli_command_is_documented() -> None:
    text = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    missing = [name for name in _commands() if f"supportbot {name}" not in text]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make run" in head and "make test" in head
