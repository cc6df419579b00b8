"""Verify many derivations: the cache, the worker processes and the progress lines live here.

Reports travel as plain dicts (``Report.to_dict()``), the same form the cache and ``--json`` use.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Callable, Sequence

from symformer.engine import cache as _cache
from symformer.engine.model import Derivation
from symformer.errors import SymformerError
from symformer.engine.results import VerifyConfig
from symformer.engine.verify import verify

# Derivations hold lambdas, which do not pickle: forked workers inherit them and receive an index.
_WORK: Sequence[Derivation] = ()
_CONFIG = VerifyConfig()


def _verify_one(index: int) -> dict:
    derivation = _WORK[index]
    try:
        return verify(derivation, _CONFIG).to_dict()
    except SymformerError as exc:
        return _error_report(derivation, str(exc))


def _error_report(derivation: Derivation, message: str) -> dict:
    return {"slug": derivation.slug, "title": derivation.title, "topic": derivation.topic, "ok": False,
            "seconds": 0.0, "max_error": None, "source": derivation.source, "error": message, "checks": []}


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def verify_many(
    derivations: Sequence[Derivation],
    config: VerifyConfig = VerifyConfig(),
    use_cache: bool = True,
    jobs: int | None = None,
    progress: Callable[[int, int, dict, bool], None] | None = None,
) -> list:
    """Verify each derivation (or take its cached verdict); return report dicts in input order.

    ``progress(done, total, report, cached)`` is called once per derivation as it finishes.
    """
    global _WORK, _CONFIG
    total = len(derivations)
    reports: list = [None] * total
    keys = [_cache.content_hash(d, config) if use_cache else None for d in derivations]
    todo = []
    done = 0
    for index, key in enumerate(keys):
        cached = _cache.load(key) if key else None
        if cached is not None:
            reports[index] = {**cached, "cached": True}
            done += 1
            if progress:
                progress(done, total, reports[index], True)
        else:
            todo.append(index)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    _WORK, _CONFIG = derivations, config
    try:
        if jobs > 1 and len(todo) > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(min(jobs, len(todo))) as pool:
                results = pool.imap(_verify_one, todo)
                for index, report in zip(todo, results):
                    done = _finish(reports, keys, index, report, done, total, progress)
        else:
            for index in todo:
                done = _finish(reports, keys, index, _verify_one(index), done, total, progress)
    finally:
        _WORK = ()
    return reports


def _finish(reports, keys, index, report, done, total, progress) -> int:
    reports[index] = {**report, "cached": False}
    if keys[index] and "error" not in report:
        _cache.store(keys[index], report)
    done += 1
    if progress:
        progress(done, total, reports[index], False)
    return done
