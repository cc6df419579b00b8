"""What every subcommand shares: progress lines on stderr, and turning targets into derivations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from symformer.engine.catalog import Catalog, Discovery, builtin_slugs, discover
from symformer.engine.report import verdict_word
from symformer.errors import UsageError


def say(message: str) -> None:
    """One line for the person at the terminal: stderr, so stdout stays the result."""
    print(message, file=sys.stderr, flush=True)


def progress(done: int, total: int, report: dict, cached: bool) -> None:
    how = "cached" if cached else f"{report['seconds']:.2f} s"
    say(f"[{done}/{total}] {report['slug']}: {verdict_word(report)} ({how})")


def resolve(targets: Sequence[str], allow_shadowing: bool = False) -> Discovery:
    """Files, folders, or names of built-in derivations; no target means the whole built-in course.

    A derivation in a user's file whose slug is that of a built-in one is an error, since a name would
    then mean two derivations; with ``allow_shadowing`` the user's derivation takes the name.
    """
    if not targets:
        return discover()
    targets = list(dict.fromkeys(targets))  # a target named twice is one target
    paths = [t for t in targets if Path(t).exists()]
    names = [t for t in targets if not Path(t).exists()]
    found = discover(paths) if paths else Discovery()
    if paths:
        builtin = builtin_slugs()
        shadowing = [d for d in found.derivations if d.slug in builtin and not _is_course_file(d.source, builtin[d.slug])]
        if shadowing and not allow_shadowing:
            first = shadowing[0]
            raise UsageError(
                f"{first.source}: derivation {first.slug!r} has the slug of a built-in derivation (in "
                f"{builtin[first.slug].name}); give it another slug, or pass --allow-shadowing to use yours in its place"
            )
    if names:
        mine = {d.slug for d in found.derivations}
        catalog = Catalog(discover().derivations)
        for name in names:
            if name.endswith(".py") or "/" in name:
                raise UsageError(f"{name} does not exist; give a derivation file, a folder, or a built-in name")
            if name in mine:
                continue  # already found in the user's files
            found.derivations.append(catalog[name])
    return found


def _is_course_file(source, builtin_file: Path) -> bool:
    """The file is the built-in course's own (or a copy of it, as a checkout holds beside an install)."""
    try:
        return Path(source).read_bytes() == builtin_file.read_bytes()
    except (OSError, TypeError):
        return False


def report_load_errors(found: Discovery) -> None:
    for error in found.errors:
        say(f"error: {error}")
