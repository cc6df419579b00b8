"""The command line: ``symformer list | verify | show | build | export | derive | check | tokenize | wordpiece``.

The library raises typed errors; only this module turns them into messages and exit codes:
0 when everything holds, 1 when a derivation fails or a file does not load, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from symformer.cli.common import progress, report_load_errors, resolve
from symformer.engine.catalog import Catalog, discover
from symformer.errors import SymformerError, UsageError
from symformer.engine.results import VerifyConfig

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` owns every exit code."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _config(args) -> VerifyConfig:
    if args.time_bound <= 0:
        raise UsageError(f"--time-bound must be positive, got {args.time_bound}")
    return VerifyConfig(time_bound=args.time_bound, seed=args.seed)


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
    verifying.add_argument("--time-bound", type=float, default=VerifyConfig.time_bound, metavar="SECONDS",
                           help="time for each symbolic method of each check (default %(default)s)")
    verifying.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    verifying.add_argument("--jobs", type=int, default=None, help="worker processes (default: up to 2)")
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
    showing.add_argument("--path", dest="paths", action="append", default=[], metavar="PATH",
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
        args = parser.parse_args(argv)
        return args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SymformerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def entrypoint() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader of our output (head, less) has gone: stop quietly, as the Python docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_FAILED
    sys.exit(code)
