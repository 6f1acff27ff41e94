"""Jinja2 rendering for the knowledge base: answers with `{{ variables }}` and the reply templates.

Reply wording lives in templates staff can edit: `knowledge/templates/answer.md.j2`,
`did_you_mean.md.j2` and `dont_know.md.j2`. A template missing there falls back to the built-in copy
in `bot/faq/default_templates/`. Rendering is sandboxed and every undefined name is an error.
Templates whose name ends in `.html.j2` or `.html` are HTML-escaped automatically.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from bot.errors import Problem, TemplateError, display_path

ANSWER_TEMPLATE = "answer.md.j2"
DID_YOU_MEAN_TEMPLATE = "did_you_mean.md.j2"
DONT_KNOW_TEMPLATE = "dont_know.md.j2"
REPLY_TEMPLATES = (ANSWER_TEMPLATE, DID_YOU_MEAN_TEMPLATE, DONT_KNOW_TEMPLATE)


def default_templates_dir() -> Path:
    return Path(__file__).resolve().parent / "default_templates"


def make_environment(search_path: list[Path] | None = None) -> SandboxedEnvironment:
    loader = jinja2.FileSystemLoader([str(p) for p in search_path]) if search_path else None
    return SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


class ReplyTemplates:
    """The reply templates, from `folder` when it has them, else the built-in defaults."""

    def __init__(self, folder: Path | None = None, *, root: Path | None = None) -> None:
        self._folder = folder
        self._root = root
        dirs = [p for p in (folder,) if p is not None and p.is_dir()] + [default_templates_dir()]
        self._env = make_environment(dirs)
        self._compiled: dict[str, jinja2.Template] = {}

    def _get(self, name: str) -> jinja2.Template:
        """Compiled once, so a snapshot keeps the templates it was validated with."""
        template = self._compiled.get(name)
        if template is None:
            template = self._compiled[name] = self._env.get_template(name)
        return template

    def source_of(self, name: str) -> Path:
        if self._folder is not None and (self._folder / name).is_file():
            return self._folder / name
        return default_templates_dir() / name

    def _display(self, name: str) -> str:
        return display_path(self.source_of(name), self._root)

    def check(self) -> list[Problem]:
        """Compile every reply template; a syntax error names file:line."""
        problems: list[Problem] = []
        for name in REPLY_TEMPLATES:
            try:
                self._get(name)
            except jinja2.TemplateSyntaxError as e:
                problems.append(
                    Problem(
                        self._display(name),
                        e.lineno,
                        f"template syntax error: {e.message}",
                        "fix the {{ }} / {% %} tags (see the default template in bot/faq/default_templates/)",
                    )
                )
        return problems

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.render_with_exports(name, context)[0]

    def render_with_exports(self, name: str, context: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Render, and return the template's top-level `{% set name = ... %}` values (button titles)."""
        try:
            module = self._get(name).make_module(dict(context))
            exports = {k: v for k, v in vars(module).items() if not k.startswith("_")}
            return str(module).strip(), exports
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(f"{self._display(name)}:{e.lineno}: template syntax error: {e.message}") from e
        except jinja2.UndefinedError as e:
            raise TemplateError(
                f"{self._display(name)}: {e.message} — use only the variables listed at the top of the template"
            ) from e
        except jinja2.TemplateError as e:
            raise TemplateError(f"{self._display(name)}: {e}") from e


_VARIABLE_USE = r"\{\{[^}]*\b%s\b"


def render_answer(
    answer: str, variables: Mapping[str, Any], *, file: str, line: int, env: SandboxedEnvironment | None = None
) -> tuple[str, list[Problem]]:
    """Fill `{{ variables }}` in an answer's Markdown. Returns (text, problems); text is the source on error."""
    env = env or make_environment()
    try:
        ast = env.parse(answer)
    except jinja2.TemplateSyntaxError as e:
        return answer, [
            Problem(
                file,
                line + (e.lineno or 1) - 1,
                f"template error in the answer: {e.message}",
                "write variables as {{ name }}; to show literal braces wrap the text in {% raw %}...{% endraw %}",
            )
        ]
    unknown = sorted(meta.find_undeclared_variables(ast) - set(variables))
    if unknown:
        problems = []
        for name in unknown:
            found = re.search(_VARIABLE_USE % re.escape(name), answer)
            offset = answer[: found.start()].count("\n") if found else 0
            problems.append(
                Problem(
                    file,
                    line + offset,
                    f"unknown variable '{name}' in the answer",
                    "check the spelling, or add it to knowledge/variables.yml",
                )
            )
        return answer, problems
    try:
        return env.from_string(answer).render(variables), []
    except jinja2.TemplateError as e:
        return answer, [
            Problem(file, line, f"template error in the answer: {e}", "write variables as plain {{ name }}")
        ]
