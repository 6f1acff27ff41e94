"""`bot/cli.py`: commands owned by other modules come from the plugin list, and a broken plugin is loud."""

from __future__ import annotations

import pytest

from bot import cli
from bot.errors import ConfigError


def test_serve_comes_from_the_server_through_the_plugin_list() -> None:
    from server.cli import serve_command

    assert ("server.cli", "serve_command", None) in cli.PLUGINS
    assert getattr(serve_command, "command_name", None) == "serve"


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (("no_such_module.cli", "app", None), "the command-line plugin no_such_module.cli cannot be imported"),
        (("bot.faq.cli", "no_such_app", "kb"), "the command-line plugin bot.faq.cli has no `no_such_app`"),
    ],
)
def test_a_plugin_that_cannot_be_loaded_stops_the_cli(
    monkeypatch: pytest.MonkeyPatch, plugin: tuple[str, str, str | None], message: str
) -> None:
    monkeypatch.setattr(cli, "PLUGINS", (plugin,))
    with pytest.raises(ConfigError, match=message):
        cli._register_plugins()


def test_the_command_prints_the_broken_plugin_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "PLUGINS", (("no_such_module.cli", "app", None),))
    monkeypatch.setattr("sys.argv", ["supportbot", "--help"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
