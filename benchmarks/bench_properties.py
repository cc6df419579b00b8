"""What a property's general argument costs: each course property verified with and without it, in one run.

Run ``python benchmarks/bench_properties.py [--repeats 3]``. For every property of the built-in
course that has a general argument, the derivation holding only that property is verified twice,
with the argument and with ``general=None``, best of ``--repeats`` runs each, interleaved so that a
change of load hits both; the table gives the level each reaches, both times and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symformer import Property, catalog, verify  # noqa: E402


def _alone(derivation, claim):
    """The derivation with ``claim`` as its only claim, so the timing is that property's."""
    copy = dataclasses.replace(derivation, claims=(claim,), result=None)
    return copy


def _timed(derivation):
    started = time.perf_counter()
    report = verify(derivation)
    check = next(c for c in report.checks if c.kind == "claim")
    return time.perf_counter() - started, check.level


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for slug, derivation in sorted(catalog().items()):
        for claim in derivation.claims:
            if not (isinstance(claim, Property) and claim.general is not None):
                continue
            general, per_size = _alone(derivation, claim), _alone(derivation, dataclasses.replace(claim, general=None))
            times = {"general": [], "per size": []}
            levels = {}
            for _ in range(args.repeats):
                for name, candidate in (("general", general), ("per size", per_size)):
                    seconds, levels[name] = _timed(candidate)
                    times[name].append(seconds)
            best = {name: min(values) for name, values in times.items()}
            rows.append((slug, claim.statement[:40], levels["general"][:24], levels["per size"][:24],
                         f"{best['general']:.3f}", f"{best['per size']:.3f}", f"{best['general'] / best['per size']:.2f}"))
    header = ("derivation", "property", "level with", "level without", "with s", "without s", "ratio")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
