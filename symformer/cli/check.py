"""The ``check`` subcommand: verify the chains of equations of a LaTeX or Markdown file, step by step.

Exit codes: 0 when every step holds (or could not be verified in the time bound, which is said),
1 when a step fails, 2 when the file cannot be read or parsed (the message names line and column).
"""

from __future__ import annotations

import argparse
import json

from symformer.cli.common import say, seed_option, time_bound_option
from symformer.engine.results import VerifyConfig
from symformer.errors import UsageError

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``check`` to an argparse subparsers object."""
    checking = subparsers.add_parser(
        "check", help="check the equation chains of a .tex or .md file (homework, notes) step by step",
        description="Every align*/aligned/equation chain of a .tex file (every $$ display of a .md file) is a "
                    "derivation: its first left side, then one step per '='. Symbols are declared in "
                    "'% symformer:' comments (.tex) or under 'symformer:' in the front matter (.md).")
    checking.add_argument("files", nargs="+", metavar="FILE", help=".tex or .md files")
    checking.add_argument("--format", choices=("text", "json"), default="text",
                          help="text for people, json for graders: one object per chain and step (default text)")
    time_bound_option(checking, VerifyConfig.time_bound, "each step")
    seed_option(checking)
    checking.set_defaults(run=run_check)


def run_check(args) -> int:
    from symformer.engine.homework import check_file

    config = VerifyConfig(time_bound=args.time_bound, seed=args.seed)
    verdicts, unreadable = [], []
    for name in args.files:
        try:
            verdicts.append(check_file(name, config))
        except UsageError as exc:
            unreadable.append((name, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a defect of symformer: say so in one line, never a traceback
            unreadable.append((name, f"{name}: symformer could not check this file ({type(exc).__name__}: {exc}); "
                                     "please report it with the file"))
    if args.format == "json":
        document = {"ok": not unreadable and all(v.ok for v in verdicts), "files": [v.to_dict() for v in verdicts],
                    "errors": [{"file": name, "error": message} for name, message in unreadable]}
        print(json.dumps(document, indent=2, default=str))
    else:
        for verdict in verdicts:
            print(format_verdict(verdict))
    for _, message in unreadable:
        say(f"error: {message}")
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_OK if all(v.ok for v in verdicts) else EXIT_FAILED


def format_verdict(verdict) -> str:
    """A file's verdict for the terminal: each step on its line, then the first wrong step and why."""
    from symformer.engine.report import example_text

    lines = []
    steps = sum(len(c.steps) for c in verdict.chains)
    lines.append(f"{verdict.path}: {len(verdict.chains)} chain{'s' * (len(verdict.chains) != 1)}, "
                 f"{steps} step{'s' * (steps != 1)}")
    width = max((len(str(s.line)) for c in verdict.chains for s in c.steps), default=1)
    for chain in verdict.chains:
        lines.append(f"chain {chain.number} (line {chain.line}): {_short(chain.lhs, 70)}")
        for step in chain.steps:
            word = {"holds": "holds", "fails": "FAILS", "could not be verified": "could not be verified"}[step.verdict]
            how = step.level if step.verdict == "holds" else step.detail
            lines.append(f"  line {step.line:>{width}}  {word:<5}  = {_short(step.latex, 48):<48}  {how}")
    first = verdict.first_failure()
    if first is None:
        unverified = sum(1 for c in verdict.chains for s in c.steps if s.verdict == "could not be verified")
        lines.append(f"all {steps - unverified} checked steps hold" +
                     (f"; {unverified} could not be verified" if unverified else ""))
    else:
        chain, step = first
        lines.append(f"first wrong step: {verdict.path}:{step.line}:{step.column} (chain {chain.number}, "
                     f"step {step.number}): = {step.latex}")
        lines.append(f"  {step.detail}")
        if step.counterexample:
            lines.append(f"  counterexample: {example_text(step.counterexample)}")
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
