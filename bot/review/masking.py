"""Personal data hidden from staff who may not see it: emails, phone numbers, order numbers and the names of
verified customers, replaced by a marker that says what was there. Pure: text in, text out."""

from __future__ import annotations

import re
from collections.abc import Iterable

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ORDER_NUMBER = re.compile(r"\b[A-Za-z]{2,4}-?\d{4,}\b")
PHONE = re.compile(r"(?<![\w])\+?\d(?:[\s().-]*\d){6,}(?![\w])")
EMAIL_MARK, PHONE_MARK, ORDER_MARK, NAME_MARK = "[email]", "[phone]", "[order]", "[name]"


def mask_personal(text: str, names: Iterable[str] = ()) -> str:
    """`text` with emails, order numbers (`AN-12345`), phone numbers (7 digits or more, with spaces, dots,
    dashes or brackets between them) and each of `names` (whole words, any case) masked."""
    masked = EMAIL.sub(EMAIL_MARK, text)
    masked = ORDER_NUMBER.sub(ORDER_MARK, masked)
    masked = PHONE.sub(PHONE_MARK, masked)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True):
        masked = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME_MARK, masked, flags=re.IGNORECASE)
    return masked
