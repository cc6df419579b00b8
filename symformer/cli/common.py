"""What every subcommand shares: progress lines on stderr, turning targets into derivations, the
checks of option values and output paths.
"""

from __future__ import annotations

import math
import os
import secrets
import sys
from pathlib import Path
from typing import Callable, Sequence

from symformer.engine.catalog import Catalog, Discovery, builtin_slugs, discover
from symformer.engine.report import verdict_word
from symformer.errors import OutputError, UsageError

#: The ranges of the numeric options; every subcommand that takes one checks the same range.
MAX_SECONDS = 86400  # a day
MAX_JOBS = 256
MAX_SEED = 2**32 - 1


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
    if any(not t.strip() for t in targets):
        raise UsageError("an empty TARGET; give a derivation file, a folder or a built-in name")
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


def whole_number(option: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high``, else a usage error naming the option and range.

    >>> whole_number("--jobs", 1, 256)("2")
    2
    >>> whole_number("--jobs", 1, 256)("0")
    Traceback (most recent call last):
    symformer.errors.UsageError: --jobs must be a whole number from 1 to 256, got '0'
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise UsageError(f"{option} must be a whole number from {low} to {high}, got {text!r}")
        return value

    return parse


def seconds(option: str, zero: bool = False, high: float = MAX_SECONDS) -> Callable[[str], float]:
    """An argparse ``type``: a time in seconds, positive (or ``zero`` allowed), finite and at most ``high``.

    >>> seconds("--time-bound")("2.5")
    2.5
    >>> seconds("--time-bound")("nan")
    Traceback (most recent call last):
    symformer.errors.UsageError: --time-bound must be positive and at most 86400 (seconds), got 'nan'
    """
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value >= 0 if zero else value > 0) and value <= high):
            wanted = f"from 0 to {high:g}" if zero else f"positive and at most {high:g}"
            raise UsageError(f"{option} must be {wanted} (seconds), got {text!r}")
        return value

    return parse


def path_option(option: str) -> Callable[[str], str]:
    """An argparse ``type`` for a path: an empty one is a usage error (it would mean the current folder).

    >>> path_option("-o")("out")
    'out'
    """
    def parse(text: str) -> str:
        if not text.strip():
            raise UsageError(f"{option} needs a path, got {text!r}")
        return text

    return parse


def time_bound_option(parser, default: float, what: str = "each check") -> None:
    """Add ``--time-bound`` (seconds for each symbolic method), checked to be positive, finite, at most a day."""
    parser.add_argument("--time-bound", type=seconds("--time-bound"), default=default, metavar="SECONDS",
                        help=f"time for each symbolic method of {what}, up to a day (default %(default)s)")


def seed_option(parser) -> None:
    """Add ``--seed`` (of the random inputs), checked to lie in 0..MAX_SEED."""
    parser.add_argument("--seed", type=whole_number("--seed", 0, MAX_SEED), default=0, metavar="N",
                        help=f"seed of the random inputs, 0 to {MAX_SEED} (default 0)")


def jobs_option(parser) -> None:
    """Add ``--jobs`` (worker processes), checked to lie in 1..MAX_JOBS."""
    parser.add_argument("--jobs", type=whole_number("--jobs", 1, MAX_JOBS), default=None, metavar="N",
                        help=f"worker processes, 1 to {MAX_JOBS} (default: up to 2)")


def check_writable(path: Path, make_folder: bool = True) -> None:
    """Make sure a file can be created at ``path`` before any work starts, by creating and removing an empty one.

    Raises :class:`OutputError` naming ``path`` (a read-only or full file system, a folder in the
    way, a parent that is a file). With ``make_folder``, missing parent folders are created.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    if path.exists() and not path.is_file():  # a device or a pipe (/dev/stdout) is written into
        if not os.access(path, os.W_OK):
            raise OutputError(f"cannot write {path}: you may not write to it; choose another path")
        return
    if path.is_symlink():  # the file the link points to is replaced
        path = Path(os.path.realpath(path))
    blocker = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
    if blocker is not None:
        raise OutputError(f"cannot write {path}: {blocker} is a file, not a folder; choose another path")
    try:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise OutputError.from_os_error(path, exc) from None
