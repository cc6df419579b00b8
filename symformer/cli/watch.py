"""``symformer verify --watch FILE|DIR``: verify again whenever a derivation file is saved.

Polling modification times needs no dependency and works on every file system; a poll every
0.3 s costs one ``stat`` per file. Only the files that changed are imported and verified again, and
through the verdict cache, so a file saved unchanged (or changed back) costs no verification.
A file is the unit: its claims and results hold code, so the cache keys every verdict to its file.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from symformer.cli.common import progress, report_load_errors, resolve, say
from symformer.engine.catalog import _python_files
from symformer.errors import UsageError

#: Seconds between two looks at the files.
POLL = 0.3


def watched_files(targets: Sequence[str]) -> dict:
    """Each ``.py`` file under ``targets`` with its (modification time, size)."""
    files = {}
    for target in targets:
        path = Path(target)
        for file in (_python_files(path) if path.is_dir() else [path] if path.is_file() else []):
            try:
                status = file.stat()
            except OSError:  # removed between the listing and the look
                continue
            files[file.resolve()] = (status.st_mtime_ns, status.st_size)
    return files


def watch(targets: Sequence[str], verify_round: Callable[[list], None], rounds: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Call ``verify_round(files)`` with every file, then with the files that change, ``rounds`` times
    after the first (forever when None)."""
    for target in targets:
        if not Path(target).exists():
            raise UsageError(f"--watch needs files or folders; {target} does not exist")
    seen = watched_files(targets)
    verify_round([str(f) for f in seen])
    say(f"watching {len(seen)} file{'s' if len(seen) != 1 else ''}; save one to verify it again, Ctrl-C stops")
    done = 0
    while rounds is None or done < rounds:
        sleep(POLL)
        done += 1
        now = watched_files(targets)
        for gone in sorted(set(seen) - set(now)):
            say(f"removed: {gone}")
        changed = sorted(f for f in now if seen.get(f) != now[f])
        seen = now
        if changed:
            say("changed: " + ", ".join(str(f) for f in changed))
            verify_round([str(f) for f in changed])


def verify_files_once(files: list, args, config) -> None:
    """One round of ``--watch``: the table and the failures of ``files``, as ``verify`` prints them."""
    from symformer.engine.batch import verify_many
    from symformer.engine.report import format_failures, format_table
    from symformer.errors import SymformerError

    if not files:
        return
    try:
        found = resolve(files, allow_shadowing=args.allow_shadowing)
    except SymformerError as exc:  # a bad save is reported and the watch goes on
        say(f"error: {exc}")
        return
    reports = verify_many(found.derivations, config, use_cache=not args.no_cache, jobs=args.jobs,
                          progress=None if args.quiet else progress)
    if reports:
        print(format_table(reports))
        failures = format_failures(reports)
        if failures:
            print("\n" + failures)
    report_load_errors(found)
    sys.stdout.flush()
