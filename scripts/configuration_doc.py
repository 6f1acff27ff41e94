"""Regenerate the settings table of docs/configuration.md from `bot.config.Settings`.

    .venv/bin/python scripts/configuration_doc.py        # rewrites the table between the markers

`tests/test_docs.py` fails when a setting is missing from the page.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def table() -> str:
    rows = ["| setting | environment variable | default | what it does |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        if name == "project_dir":
            default = "the current directory"
        shown = "unset" if default is None else str(default)
        rows.append(f"| `{name}` | `SUPPORTBOT_{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows)


def main() -> None:
    text = PAGE.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    PAGE.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
