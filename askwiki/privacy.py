"""Masking personal data in what one reader sees of another reader's question.

Public pages, lists and APIs show stored questions and answers through ``mask_personal``:
e-mail addresses keep their first letter and domain, phone numbers and Chinese resident ID
numbers keep only their last four digits. The question log keeps the original, for editors.

Matching leans towards not masking: a phone number needs a mobile prefix (1[3-9]) or a
leading ``+``/``00`` country code or a landline area code with a dash, and an 18-digit
number is an ID only when its birth date and check digit are valid, so dates, versions,
prices and order numbers stay as they are.

Logs are the other place questions leak: ``QueryStringFilter`` keeps ``/ask?q=...`` out
of the HTTP access log unless ``ASKWIKI_LOG_QUESTIONS`` is on.
"""

from __future__ import annotations

import logging
import re
from datetime import date

MASK = "*"
KEPT_DIGITS = 4

_EMAIL = re.compile(
    r"(?<![\w.+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
    r"(?![\w-])"
)
# 18 digits, the last possibly X: the ID card number (GB 11643-1999), checked below.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_SEP = r"[ \-.\u00a0]?"
_PHONES = (
    # Chinese mobile: 1[3-9]x xxxx xxxx, with an optional +86 / 0086 and spaces or dashes.
    re.compile(rf"(?<![\d+])(?:(?:\+|00)86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)"),
    # International: + country code, then groups of digits (8 to 15 digits in all, E.164).
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ \-.\u00a0]?\(?\d{1,5}\)?){2,6}(?!\d)"),
    # Chinese landline with its area code: 010-12345678, 0755-1234567.
    re.compile(r"(?<![\d-])0\d{2,3}-\d{7,8}(?![\d-])"),
    # North American: (415) 555-0100, 415-555-0100.
    re.compile(r"(?<![\d-])(?:\(\d{3}\) ?|\d{3}-)\d{3}-\d{4}(?![\d-])"),
)


def mask_personal(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers and resident ID numbers masked."""
    if not text:
        return text
    text = _RESIDENT_ID.sub(_mask_resident_id, text)
    text = _EMAIL.sub(_mask_email, text)
    for pattern in _PHONES:
        text = pattern.sub(_mask_phone, text)
    return text


def is_resident_id(number: str) -> bool:
    """Whether an 18-character number is a valid Chinese resident ID (birth date, check digit)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _mask_digits(text: str, keep: int = KEPT_DIGITS) -> str:
    """Every digit but the last ``keep`` replaced, separators kept (the shape stays readable)."""
    hidden = sum(c.isdigit() for c in text) - keep
    out: list[str] = []
    for char in text:
        if char.isdigit() and hidden > 0:
            hidden -= 1
            char = MASK
        out.append(char)
    return "".join(out)


def _mask_resident_id(match: re.Match[str]) -> str:
    number = match.group(0)
    if not is_resident_id(number):
        return number
    return MASK * 14 + number[14:]


def _mask_email(match: re.Match[str]) -> str:
    local, domain = match.group(1), match.group(2)
    return f"{local[0]}{MASK * 3}@{domain}"


def _mask_phone(match: re.Match[str]) -> str:
    number = match.group(0)
    if not 7 <= sum(c.isdigit() for c in number) <= 15:
        return number
    return _mask_digits(number)


# The end of a cut-off snippet may hold half an address or number that no pattern matches.
_CUT_OFF_TAIL = re.compile(r"(?:\S*@\S*|[+(]?\d[\d \-().]{2,})…$")


def mask_snippet(snippet: str) -> str:
    """A snippet (cut off with "…") masked, a cut-off address or number at its end dropped."""
    return _CUT_OFF_TAIL.sub("…", mask_personal(snippet))


class QueryStringFilter(logging.Filter):
    """Drops the query string (``/ask?q=<question>``, ``/questions?q=``) from access-log lines.

    Uvicorn's access records carry the path as their third argument.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            if query:
                record.args = (*args[:2], path + "?…", *args[3:])
        return True
