"""How numbers, tables and prose look in the generated blocks."""

from __future__ import annotations

import textwrap
from typing import Any


def num(value: Any, digits: int = 4, strip: bool = True) -> str:
    """A number for a table: integers with thousands separators, floats rounded
    (trailing zeros dropped unless `strip` is False)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if strip and value.is_integer() and abs(value) >= 100:
            return f"{int(value):,}"
        text = f"{value:,.{digits}f}"
        if strip and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return str(value)


def prose(text: str) -> str:
    """A paragraph wrapped to short lines."""
    return textwrap.fill(text, 96, break_long_words=False, break_on_hyphens=False)


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage, or "-" when there is none."""
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table; cells that are not already text go through `num`. A column with
    nothing in any row (all None) is left out."""
    kept = [j for j in range(len(header)) if not rows or any(row[j] is not None for row in rows)]
    header, rows = [header[j] for j in kept], [[row[j] for j in kept] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(num(c) if not isinstance(c, str) else c for c in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def missing(rel: str, what: str = "") -> str:
    """The one-line note that stands in for a block whose result file is absent."""
    return f"_`{rel}` is not in this checkout{': ' + what if what else ''}._"


def minutes(seconds: float) -> str:
    """Seconds as minutes, one decimal."""
    return f"{seconds / 60:.1f} min"


def gib(mib: float | None) -> str:
    """A size in MiB as GiB, one decimal, or "-" when it was not measured."""
    return "-" if mib is None else f"{mib / 1024:.1f} GiB"


def speed(value: float) -> str:
    """A reviews/s figure, one decimal as measured."""
    return num(value, 1, strip=False)


def runs(values: list[Any]) -> str:
    """Each round's figure, comma-separated."""
    return ", ".join(speed(v) for v in values)
