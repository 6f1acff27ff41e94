"""supportbot's pytest plugin: YAML test cases as pytest items, plus fixtures for your own tests.

Registered through the `pytest11` entry point, so it is active wherever supportbot is installed.
It collects `intents/tests/*.yml` and `knowledge/tests/*.yml` (format: `bot.testing.cases`,
docs/testing.md). Each case is one item with a readable id
(`intents/tests/test_orders.yml::where is my parcel`) that works with `-k`, markers, xfail and
`--junitxml`. The assistant is built once per session, lazily, when the first YAML case runs; this
module imports neither the model nor the bot at import time.

Markers it adds: `supportbot` (every YAML case), `nlu`, `knowledge`, `conversation`.
Hook: `pytest_supportbot_make_assistant(config, project_dir)` in a conftest.py replaces the real
assistant (e.g. with one built on the `FakeEncoder`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from bot.testing.cases import Case
    from bot.testing.fixtures import SessionBots

CASE_FOLDERS = ("intents", "knowledge")
MARKERS = {
    "supportbot": "a YAML test case of the bot (intents/tests, knowledge/tests)",
    "nlu": "a YAML case checking one message's intent, entities or abstention",
    "knowledge": "a YAML case checking which knowledge entry answers a message",
    "conversation": "a YAML conversation test (several user lines, actions, slots, replies)",
}
_BOTS = pytest.StashKey["SessionBots"]()


class SupportbotHooks:
    """Hooks other plugins and conftest.py files may implement."""

    @pytest.hookspec(firstresult=True)
    def pytest_supportbot_make_assistant(self, config: pytest.Config, project_dir: Path) -> Any:
        """Return the assistant the YAML cases of `project_dir` run against (None: the real one)."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(SupportbotHooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("supportbot_project", "Folder of the supportbot project under test (default: rootdir).", default="")
    group = parser.getgroup("supportbot")
    group.addoption(
        "--no-yaml-cases",
        action="store_true",
        default=False,
        help="Do not collect supportbot's YAML test cases (intents/tests, knowledge/tests).",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    from bot.testing import fixtures

    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, "supportbot-fixtures")


def pytest_unconfigure(config: pytest.Config) -> None:
    bots = config.stash.get(_BOTS, None)
    if bots is not None:
        bots.close()


def bots_of(config: pytest.Config) -> SessionBots:
    """The session's assistants (one per project folder), created on first use."""
    bots = config.stash.get(_BOTS, None)
    if bots is None:
        from bot.testing.fixtures import SessionBots

        def factory(project_dir: Path) -> Any:
            made = config.hook.pytest_supportbot_make_assistant(config=config, project_dir=project_dir)
            if made is not None:
                return made
            from bot.testing.fixtures import build_assistant

            return build_assistant(project_dir)

        bots = SessionBots(factory)
        config.stash[_BOTS] = bots
    return bots


def tests_folder_of(path: Path) -> Path | None:
    """The `intents/tests` or `knowledge/tests` folder holding `path` (at any depth), or None."""
    for folder in path.parents:
        if folder.name == "tests" and folder.parent.name in CASE_FOLDERS:
            return folder
    return None


def is_case_file(path: Path) -> bool:
    return path.suffix in (".yml", ".yaml") and tests_folder_of(path) is not None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if parent.config.getoption("no_yaml_cases") or not is_case_file(file_path):
        return None
    collector: YamlCaseFile = YamlCaseFile.from_parent(parent, path=file_path)
    return collector


class YamlCaseFile(pytest.File):
    """One YAML test file; each case and conversation in it becomes a `YamlCaseItem`."""

    def collect(self) -> Iterator[pytest.Item]:
        from bot.errors import DataError, display_path
        from bot.testing.cases import MessageCase, load_case_file

        shown = display_path(self.path, self.config.rootpath)
        try:
            loaded = load_case_file(self.path, shown)
        except DataError as e:
            raise self.CollectError(f"invalid test file {shown}:\n{e}") from e
        for case in loaded.cases:
            item: YamlCaseItem = YamlCaseItem.from_parent(self, name=case.name, case=case)
            item.add_marker(pytest.mark.supportbot)
            kind = case.kind
            if isinstance(case, MessageCase) and case.step.expect.needs_dialogue and kind == "nlu":
                kind = "conversation"
            item.add_marker(getattr(pytest.mark, kind))
            for mark in case.marks.names:
                item.add_marker(getattr(pytest.mark, mark))  # unknown names fail under --strict-markers
            if case.marks.xfail:
                item.add_marker(pytest.mark.xfail(reason=case.marks.xfail, raises=_failure_type()))
            yield item


def _failure_type() -> type[BaseException]:
    from bot.testing.runner import CaseFailure

    return CaseFailure


class YamlCaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    @property
    def project_dir(self) -> Path:
        folder = tests_folder_of(self.path)  # <project>/intents/tests/[sub/]x.yml
        assert folder is not None
        return folder.parent.parent

    def runtest(self) -> None:
        from bot.testing.runner import run_case

        bots = bots_of(self.config)
        assistant = bots.get(self.project_dir)
        failure = run_case(assistant, self.case, before_conversation=bots.reset_data)
        if failure is not None:
            self.user_properties.extend((f"expected {m.what}", m.expected) for m in failure.mismatches)
            self.user_properties.extend((f"actual {m.what}", m.actual) for m in failure.mismatches)
            raise failure

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        from bot.testing.runner import CaseFailure

        if isinstance(excinfo.value, CaseFailure):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.case.line - 1, f"{self.case.kind}: {self.case.name}"
