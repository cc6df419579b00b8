"""The command line: ``symformer list | verify | show | build | export | derive | check | tokenize | wordpiece``.

The library raises typed errors; only this module turns them into messages and exit codes:
0 when everything holds, 1 when a derivation fails, a file does not load or an output cannot be
written, 2 for usage errors, 128 + N when signal N (Ctrl-C, SIGTERM, SIGHUP) stopped the program.
A signal stops the program the way Ctrl-C does, so its clean-ups run (a compile in progress is
killed and its private folder removed); files are written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Sequence

from symformer.cli.common import (jobs_option, path_option, progress, report_load_errors, resolve, seed_option,
                                  time_bound_option)
from symformer.engine.catalog import Catalog, discover
from symformer.errors import SymformerError, UsageError, advice
from symformer.engine.results import VerifyConfig

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` owns every exit code."""

    def error(self, message):
        option = re.match(r"argument (?:-\w/)?(--[\w-]+)(?:/-\w)?: expected one argument$", message)
        if option:  # argparse takes "-inf" or "-x" after an option for another option
            message += f"; a value that starts with '-' is written {option.group(1)}=VALUE"
        raise UsageError(f"{self.prog}: {message}")


def _config(args) -> VerifyConfig:
    return VerifyConfig(time_bound=args.time_bound, seed=args.seed, explain=getattr(args, "explain", False))


# Commands -----------------------------------------------------------------------------------


def _cmd_list(args) -> int:
    from symformer.engine.report import weakest_level
    from symformer.engine import cache as _cache

    found = resolve(args.targets, allow_shadowing=args.allow_shadowing)
    config = VerifyConfig()
    rows = []
    for derivation in found.derivations:
        cached = _cache.load(_cache.content_hash(derivation, config))
        level = weakest_level(cached) if cached else "not verified yet (run symformer verify)"
        rows.append({"slug": derivation.slug, "topic": derivation.topic, "title": derivation.title, "level": level})
    if args.json:
        print(json.dumps({"derivations": rows, "errors": [str(e) for e in found.errors]}, indent=2))
    else:
        width = max((len(r["slug"]) for r in rows), default=10)
        topic_width = max((len(r["topic"]) for r in rows), default=5)
        for row in rows:
            print(f"{row['slug']:<{width}}  {row['topic']:<{topic_width}}  {row['level']}")
    report_load_errors(found)
    return EXIT_FAILED if found.errors else EXIT_OK


def _cmd_verify(args) -> int:
    from symformer.engine.report import format_failures, format_table
    from symformer.engine.batch import verify_many

    if args.watch:
        from symformer.cli.watch import verify_files_once, watch

        if not args.targets:
            raise UsageError("--watch needs the files or folders to watch, like: symformer verify --watch my_file.py")
        if args.json:
            raise UsageError("--watch prints a table for each save; it cannot be combined with --json")
        if args.explain:
            raise UsageError("--watch prints a table for each save; it cannot be combined with --explain")
        config = _config(args)
        try:
            watch(args.targets, lambda files: verify_files_once(files, args, config))
        except KeyboardInterrupt:  # the way a watch ends
            print("stopped watching", file=sys.stderr)
        return EXIT_OK
    found = resolve(args.targets, allow_shadowing=args.allow_shadowing)
    if not found.derivations and not found.errors:
        raise UsageError(f"no derivations found in {', '.join(args.targets)}; a derivation is a module-level Derivation object")
    reports = verify_many(found.derivations, _config(args), use_cache=not args.no_cache, jobs=args.jobs,
                          progress=None if args.quiet else progress)
    ok = all(r["ok"] for r in reports) and not found.errors
    if args.json:
        document = {"ok": ok, "derivations": reports, "errors": [str(e) for e in found.errors]}
        print(json.dumps(document, indent=2))
    else:
        print(format_table(reports))
        if args.explain:
            from symformer.engine.report import format_rewrites

            print("\n" + (format_rewrites(reports) or "no check was proved for all sizes"))
        failures = format_failures(reports)
        if failures:
            print("\n" + failures)
    report_load_errors(found)
    return EXIT_OK if ok else EXIT_FAILED


def _cmd_show(args) -> int:
    found = resolve([*args.paths], allow_shadowing=args.allow_shadowing) if args.paths else discover()
    derivation = Catalog(found.derivations)[args.name]
    if args.format == "latex":
        from symformer.notation.chain import derivation_to_latex

        print(derivation_to_latex(derivation))
    else:
        from symformer.engine import cache as _cache
        from symformer.engine.report import format_levels
        from symformer.notation.text import derivation_to_text

        print(derivation_to_text(derivation))
        cached = _cache.load(_cache.content_hash(derivation, VerifyConfig()))
        print("\n" + (format_levels(cached) if cached else f"Not verified yet: run symformer verify {' '.join(args.paths) or args.name}"))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symformer", description="Verified derivations of the mathematics of transformers.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    listing = commands.add_parser("list", help="list derivations with their topic and proof level")
    listing.add_argument("targets", nargs="*", metavar="PATH", help="files or folders (default: the built-in course)")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.add_argument("--allow-shadowing", action="store_true",
                         help="let a derivation of your files take the slug of a built-in one")
    listing.set_defaults(run=_cmd_list)

    verifying = commands.add_parser("verify", help="verify derivations: every step symbolically and numerically")
    verifying.add_argument("targets", nargs="*", metavar="TARGET", help="files, folders or built-in names (default: all)")
    verifying.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    time_bound_option(verifying, VerifyConfig.time_bound)
    seed_option(verifying)
    jobs_option(verifying)
    verifying.add_argument("--explain", action="store_true",
                           help="print the named rewrites of each proof for all sizes (with --json, in each method)")
    verifying.add_argument("--no-cache", action="store_true", help="verify again even if nothing changed")
    verifying.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    verifying.add_argument("--watch", action="store_true",
                           help="stay running and verify each file again when it is saved (Ctrl-C stops)")
    verifying.add_argument("--allow-shadowing", action="store_true",
                           help="let a derivation of your files take the slug of a built-in one")
    verifying.set_defaults(run=_cmd_verify)

    showing = commands.add_parser("show", help="print one derivation")
    showing.add_argument("name", help="the derivation's name (its slug)")
    showing.add_argument("--format", choices=("text", "latex"), default="text")
    showing.add_argument("--path", dest="paths", type=path_option("--path"), action="append", default=[],
                         metavar="PATH",
                         help="look in this file or folder instead of the built-in course")
    showing.add_argument("--allow-shadowing", action="store_true",
                         help="let a derivation of your files take the slug of a built-in one")
    showing.set_defaults(run=_cmd_show)

    for extension in _extensions():
        extension(commands)
    return parser


def _extensions() -> list:
    """Subcommands defined beside the features they drive: each adds its parsers to ``commands``."""
    from symformer.cli.build import add_commands as build_commands
    from symformer.cli.check import add_commands as check_commands
    from symformer.cli.derive import add_commands as derive_commands
    from symformer.cli.new import add_commands as new_commands
    from symformer.cli.tokenize import add_commands as wordpiece_commands

    extensions = [wordpiece_commands, build_commands, derive_commands, new_commands, check_commands]
    return extensions


def _version() -> str:
    from symformer._version import __version__

    return f"symformer {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        with _signals_stop_cleanly():
            args = parser.parse_args(argv)
            return args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SymformerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        raise  # the reader of our output has gone: entrypoint stops quietly
    except OSError as exc:  # the last resort: whatever was not turned into a message on its way up
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{advice(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:
        number = getattr(exc, "signum", signal.SIGINT)
        how = "interrupted" if number == signal.SIGINT else f"stopped by {signal.Signals(number).name}"
        print(f"{how}: no file was left half-written; run the command again to finish", file=sys.stderr)
        return 128 + number


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that clean-ups run."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _signals_stop_cleanly():
    """While the program runs, SIGINT, SIGTERM and SIGHUP raise in the main process.

    Forked workers start with SIGTERM and SIGHUP at their default action, set around the fork
    itself: a handler they inherited would lose a SIGTERM that came before the child's interpreter
    was ready (CPython clears pending signals after a fork), and the pool that sent it would wait
    forever. SIGINT reaches them through the inherited handler, which ignores it there (the
    program stops its workers itself, so Ctrl-C prints no traceback per worker). A signal that
    was ignored when the program started (nohup, a background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def stop(signum, frame):
        if os.getpid() != owner:
            if signum != signal.SIGINT:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, stop)
    _FORKS.update(handler=stop, fatal=[n for n in previous if n != signal.SIGINT])
    try:
        yield
    finally:
        _FORKS.update(handler=None, fatal=[])
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


_FORKS: dict = {"handler": None, "fatal": []}


def _default_fatal_signals() -> None:
    if _FORKS["handler"] is not None and threading.current_thread() is threading.main_thread():
        for number in _FORKS["fatal"]:
            signal.signal(number, signal.SIG_DFL)


def _restore_fatal_signals() -> None:
    if _FORKS["handler"] is not None and threading.current_thread() is threading.main_thread():
        for number in _FORKS["fatal"]:
            signal.signal(number, _FORKS["handler"])


def _child_keeps_defaults() -> None:
    _default_fatal_signals()
    _FORKS.update(handler=None, fatal=[])


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_default_fatal_signals, after_in_parent=_restore_fatal_signals,
                        after_in_child=_child_keeps_defaults)


def entrypoint() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader of our output (head, less) has gone: stop quietly, as the Python docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_FAILED
    sys.exit(code)
