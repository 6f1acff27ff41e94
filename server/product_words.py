"""The product wording staff edit, `server/templates/partials/product_words.html`: its `{% set name = "…" %}`
lines, read through the pages' Jinja environment (an edit is picked up on the next request).

    words = product_words()          # words.page_link, words.back_to_shop, words.locations …

The product page imports the same file; Rasa's channels take `page_link` for the product page button.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, TemplateError

from bot import errors
from server.routes.pages import TEMPLATES_DIR, templates

WORDS_TEMPLATE = "partials/product_words.html"
REQUIRED = (
    "page_link",
    "back_to_shop",
    "colours",
    "sizes",
    "materials",
    "stock_heading",
    "stock_caption",
    "size_column",
    "sold_out",
    "none_in_stock",
    "locations",
    "not_found_title",
    "not_found_text",
)


def product_words(env: Environment | None = None) -> Any:
    """The wording file's variables as attributes. Raises `bot.errors.TemplateError` naming the file and
    the fix when it does not load or a name in `REQUIRED` is not set."""
    path = TEMPLATES_DIR / WORDS_TEMPLATE
    try:
        words = (env or templates.env).get_template(WORDS_TEMPLATE).module
    except TemplateError as e:
        lineno = getattr(e, "lineno", None)  # syntax errors know their line
        line = f":{lineno}" if lineno else ""
        raise errors.TemplateError(f"{path}{line}: {e} — fix the template syntax there") from e
    missing = [name for name in REQUIRED if not hasattr(words, name)]
    if missing:
        raise errors.TemplateError(
            f'{path}: {", ".join(missing)} not set — add a line such as {{%- set {missing[0]} = "…" -%}}'
        )
    return words


def page_link_title(env: Environment | None = None) -> str:
    """The title of the button that opens a product page (Rasa channels); empty means no such button."""
    return str(product_words(env).page_link).strip()
