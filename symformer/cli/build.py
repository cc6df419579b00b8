"""The ``build`` and ``export`` subcommands; the main CLI adds them with ``add_commands``.

Each sets ``run``: a function of the parsed arguments that writes its files, prints progress on
stderr (a derivation a line), returns the exit code, and raises symformer errors on bad input.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import time
from pathlib import Path

from symformer.cli.common import check_writable, jobs_option, path_option, progress, resolve, say, seconds
from symformer.errors import OutputError, UsageError
from symformer.notation.printer import Style
from symformer.engine.results import VerifyConfig



def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``build`` and ``export`` to an argparse subparsers object."""
    building = subparsers.add_parser(
        "build", help="verify the course and write notes, slides, a handout and figures (and their PDFs)",
        description="Verify every derivation, then write notes.tex, slides.tex, slides-handout.tex, figures/ and "
                    "site/ (static HTML, typeset with KaTeX when Node.js has it) into DIR, and compile the PDFs "
                    "when latexmk or pdflatex is installed.")
    building.add_argument("paths", nargs="*", metavar="TARGET",
                          help="files, folders or built-in names: one name builds one lecture (default: the built-in course)")
    building.add_argument("--topic", action="append", default=[], metavar="TOPIC",
                          help="build only the derivations of this topic (repeatable); 'symformer list' shows the topics")
    building.add_argument("-o", "--output", type=path_option("-o"), default="symformer-build", metavar="DIR",
                          help="the output folder (default: %(default)s)")
    building.add_argument("--allow-unverified", action="store_true",
                          help="export derivations that fail verification, marked NOT VERIFIED in the PDFs")
    building.add_argument("--no-pdf", action="store_true", help="write the .tex files only, do not compile")
    building.add_argument("--no-site", action="store_true", help="do not write site/, the course as static HTML")
    building.add_argument("--title", default="The mathematics of transformers",
                          help="the title of notes, slides and site, as plain text ($, & and %% print as typed)")
    building.add_argument("--author", default="", help="the author on the title page (plain text)")
    building.add_argument("--institute", default="", help="the institute on the title page (plain text)")
    building.add_argument("--date", default="", help="the date on the title page (default: the day it is compiled)")
    from symformer.export.builder import WAIT_SECONDS

    jobs_option(building)
    building.add_argument("--wait", type=seconds("--wait", zero=True), default=WAIT_SECONDS, metavar="SECONDS",
                          help="how long to wait for another build into the same folder, 0 to refuse at once "
                               "(default: %(default)g)")
    building.add_argument("--no-cache", action="store_true", help="verify again even if nothing changed")
    _add_style_options(building)
    building.set_defaults(run=run_build)

    exporting = subparsers.add_parser("export", help="export one derivation as LaTeX, beamer, Markdown or a notebook")
    exporting.add_argument("name", help="the derivation's name (its slug)")
    from symformer.export import EXPORTERS

    exporting.add_argument("--format", choices=sorted(EXPORTERS), default="tex",
                           help="; ".join(f"{e.format}: {e.description}" for e in EXPORTERS.values())
                           + " (default: %(default)s)")
    exporting.add_argument("-o", "--output", type=path_option("-o"), metavar="FILE",
                           help="write here instead of standard output")
    exporting.add_argument("--path", dest="paths", type=path_option("--path"), action="append", default=[],
                           metavar="PATH",
                           help="look in this file or folder instead of the built-in course")
    exporting.add_argument("--allow-unverified", action="store_true", help="export even if verification fails")
    _add_style_options(exporting)
    exporting.set_defaults(run=run_export)


def _add_style_options(parser) -> None:
    parser.add_argument("--allow-shadowing", action="store_true",
                        help="let a derivation of your files take the slug of a built-in one")
    parser.add_argument("--bold-matrices", action="store_true", help="print matrices in bold")
    parser.add_argument("--transpose", choices=("top", "T"), default="top", help="X^\\top or X^T (default: top)")


def _style(args) -> Style:
    return Style(bold_matrices=args.bold_matrices, transpose=r"^{\top}" if args.transpose == "top" else "^{T}")


def run_build(args) -> int:
    from symformer.export.builder import build

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"the output directory {output} is a file; give a folder with -o (it is created if missing)")
    found = resolve(args.paths, allow_shadowing=args.allow_shadowing)
    for error in found.errors:
        say(f"error: {error}")
    if found.errors and not args.allow_unverified:
        say("not built: fix the files above, or build with --allow-unverified to leave them out")
        return 1
    if not found.derivations:
        where = ", ".join(args.paths) or "the built-in course"
        raise UsageError(f"no derivations found in {where}; a derivation is a module-level Derivation object")
    derivations = select_topics(found.derivations, args.topic)
    started = time.perf_counter()
    result = build(derivations, output, allow_unverified=args.allow_unverified, compile=not args.no_pdf,
                   style=_style(args), jobs=args.jobs, use_cache=not args.no_cache, site=not args.no_site,
                   title=args.title, author=args.author, institute=args.institute, date=args.date, progress=progress,
                   log=say, wait=args.wait)
    seconds = time.perf_counter() - started
    for slug in result.unverified:
        say(f"warning: {slug} failed verification and is marked NOT VERIFIED")
    made = ", ".join(p.name for p in result.pdfs) or "the .tex files"
    phases = ", ".join(f"{name} {value:.2f} s" for name, value in result.timings.items())
    big = [box for box in result.overfull if box.points > 1.0]
    if big:
        say(f"warning: {len(big)} overfull box(es) above 1 pt: the pages above clip or run into the margin")
    say(f"built {len(derivations)} derivations into {output}: {made} ({seconds:.2f} s: {phases})")
    return 0


def _topic_key(topic: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", topic.lower()))


def select_topics(derivations: list, topics: list) -> list:
    """The derivations whose topic is one of ``topics`` (matched ignoring case and punctuation).

    >>> from symformer import catalog
    >>> [d.slug for d in select_topics(list(catalog().values()), ["layernorm"])][:1]
    ['layernorm-jacobian']
    """
    if not topics:
        return list(derivations)
    available = {}
    for derivation in derivations:
        available.setdefault(_topic_key(derivation.topic), derivation.topic)
    chosen = set()
    for topic in topics:
        key = _topic_key(topic)
        if key not in available:
            close = difflib.get_close_matches(key, list(available), n=2, cutoff=0.4)
            hint = f"; did you mean {' or '.join(repr(available[c]) for c in close)}?" if close else ""
            raise UsageError(f"no topic {topic!r} among the derivations to build{hint} The topics are: "
                             + "; ".join(dict.fromkeys(available.values())))
        chosen.add(key)
    return [d for d in derivations if _topic_key(d.topic) in chosen]


def run_export(args) -> int:
    from symformer.engine.batch import verify_many
    from symformer.engine.catalog import Catalog
    from symformer.export import Entry, exporter

    found = resolve(args.paths, allow_shadowing=args.allow_shadowing)
    derivation = Catalog(found.derivations)[args.name]
    style = _style(args)
    entry = Entry(derivation)
    chosen = exporter(args.format)
    target = None
    if args.output:  # checked before the verification, which may take a while
        target = Path(args.output)
        if target.is_dir():
            target = target / f"{derivation.slug}{chosen.suffix}"
        check_writable(target)
    if chosen.shows_levels:
        entry.report = verify_many([derivation], VerifyConfig(), progress=progress)[0]
        if not entry.verified and not args.allow_unverified:
            from symformer.engine.report import format_failures

            say(format_failures([entry.report]))
            say(f"not exported: {derivation.slug} failed verification (use --allow-unverified to export it marked)")
            return 1
    text = chosen.write(entry, style)
    if target is not None:
        from symformer._files import write_atomically

        try:
            write_atomically(target, text)
        except OSError as exc:
            raise OutputError.from_os_error(target, exc) from None
        say(f"wrote {target}")
    else:
        sys.stdout.write(text)
    return 0
