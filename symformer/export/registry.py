"""The formats one derivation exports to: each a registered entry of format, file suffix and function.

An exporter module registers itself where it defines its function, so adding a format is one
module and one ``register`` call; ``symformer export --format`` offers whatever is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from symformer.errors import UsageError


@dataclass(frozen=True)
class Exporter:
    """One format: ``write(entry, style)`` returns the whole file's text."""

    format: str
    suffix: str
    description: str
    write: Callable
    shows_levels: bool = True  # False: the export re-runs verification itself and needs no report


EXPORTERS: dict[str, Exporter] = {}


def register(exporter: Exporter) -> Exporter:
    if exporter.format in EXPORTERS:
        raise UsageError(f"the export format {exporter.format!r} is registered twice")
    EXPORTERS[exporter.format] = exporter
    return exporter


def exporter(format: str) -> Exporter:
    """The registered exporter of ``format``; the message lists the formats there are."""
    try:
        return EXPORTERS[format]
    except KeyError:
        raise UsageError(f"no export format {format!r}; choose one of {', '.join(sorted(EXPORTERS))}") from None
