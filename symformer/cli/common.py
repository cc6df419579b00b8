"""What every subcommand shares: progress lines on stderr, and turning targets into derivations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from symformer.engine.catalog import Catalog, Discovery, discover
from symformer.engine.report import verdict_word
from symformer.errors import UsageError


def say(message: str) -> None:
    """One line for the person at the terminal: stderr, so stdout stays the result."""
    print(message, file=sys.stderr, flush=True)


def progress(done: int, total: int, report: dict, cached: bool) -> None:
    how = "cached" if cached else f"{report['seconds']:.2f} s"
    say(f"[{done}/{total}] {report['slug']}: {verdict_word(report)} ({how})")


def resolve(targets: Sequence[str]) -> Discovery:
    """Files, folders, or names of built-in derivations; no target means the whole built-in course."""
    if not targets:
        return discover()
    paths = [t for t in targets if Path(t).exists()]
    names = [t for t in targets if not Path(t).exists()]
    found = discover(paths) if paths else Discovery()
    if names:
        catalog = Catalog(discover().derivations)
        for name in names:
            if name.endswith(".py") or "/" in name:
                raise UsageError(f"{name} does not exist; give a derivation file, a folder, or a built-in name")
            found.derivations.append(catalog[name])
    return found


def report_load_errors(found: Discovery) -> None:
    for error in found.errors:
        say(f"error: {error}")
