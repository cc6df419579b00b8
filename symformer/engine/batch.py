"""Verify many derivations: the cache, the worker processes and the progress lines live here.

Reports travel as plain dicts (``Report.to_dict()``), the same form the cache and ``--json`` use.

Each derivation is verified in a worker process, forked so that the derivations (which hold lambdas)
need no pickling. The in-process time bounds stop Python code; a worker also has a wall-clock limit
per derivation, for code they cannot reach (a loop in C, a regular expression that backtracks for
ever). A derivation whose worker overruns, dies or exits is reported as an error naming the cause,
the worker is replaced, and every other derivation is still verified. Workers ignore Ctrl-C: the
run stops them and ends. What a worker prints goes to stderr, so ``--json`` stays one document.
Where fork is not available, derivations are verified in this process, under the in-process bounds.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from typing import Callable, Sequence

from symformer.engine import cache as _cache
from symformer.engine.model import Derivation, Property
from symformer.engine.results import VerifyConfig
from symformer.engine.timebound import TimeBoundExceeded
from symformer.engine.usercode import stdout_to_stderr
from symformer.engine.verify import verify
from symformer.errors import SymformerError

# Derivations hold lambdas, which do not pickle: forked workers inherit them and receive an index.
_WORK: Sequence[Derivation] = ()
_CONFIG = VerifyConfig()

#: A worker's wall-clock limit for one derivation: this many seconds ...
WALL_CLOCK_FLOOR = 60.0
#: ... plus this many time bounds per check (a property's exact witness runs once per proof size, its
#: general argument once).
WALL_CLOCK_PER_CHECK = 8.0


def wall_clock_limit(derivation: Derivation, config: VerifyConfig) -> float:
    """Seconds a worker may spend on ``derivation`` before it is stopped: far above any honest run."""
    checks = len(derivation.steps) + len(derivation.claims) + (derivation.result is not None)
    properties = [c for c in derivation.claims if isinstance(c, Property)]
    general = sum(c.general is not None for c in properties)
    combinations = 1
    for size in derivation.sizes.values():
        combinations *= len(size.prove)
    return WALL_CLOCK_FLOOR + WALL_CLOCK_PER_CHECK * config.time_bound * (
        checks + len(properties) * min(combinations, 48) + general)


def verify_guarded(derivation: Derivation, config: VerifyConfig) -> dict:
    """The report of ``derivation``, or an error report naming what stopped its verification."""
    try:
        return verify(derivation, config).to_dict()
    except SymformerError as exc:
        message = str(exc)
        for prefix in (f"derivation {derivation.slug!r}, ", f"derivation {derivation.slug!r}: "):
            message = message[len(prefix):] if message.startswith(prefix) else message  # the report names it already
        return _error_report(derivation, message)
    except TimeBoundExceeded:
        return _error_report(derivation, "a time bound expired outside the check it was set for")
    except SystemExit as exc:
        return _error_report(derivation, f"code it runs called sys.exit({exc.code})")
    except Exception as exc:  # a bug in symformer or an unexpected object in the derivation: this derivation's error
        return _error_report(derivation, f"verification stopped: {type(exc).__name__}: {exc}")


def _error_report(derivation: Derivation, message: str) -> dict:
    return {"slug": derivation.slug, "title": derivation.title, "topic": derivation.topic, "ok": False,
            "seconds": 0.0, "max_error": None, "source": derivation.source, "error": message, "checks": []}


def _verify_to_message(derivation: Derivation, config: VerifyConfig) -> bytes:
    """Verify, then encode the report and the instructor's modules it depended on (for the cache) as JSON."""
    report = verify_guarded(derivation, config)
    try:
        return json.dumps({"report": report, "dependencies": _cache.dependencies()}, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        report = _error_report(derivation, f"its report could not be written as JSON: {exc}")
        return json.dumps({"report": report, "dependencies": {}}).encode()


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

    def finish(index: int, message: dict) -> None:
        nonlocal done
        report = message["report"]
        reports[index] = {**report, "cached": False}
        if keys[index] and "error" not in report:
            _cache.store(keys[index], report, message["dependencies"])
        done += 1
        if progress:
            progress(done, total, reports[index], False)

    try:
        if todo and "fork" in multiprocessing.get_all_start_methods():
            _run_in_workers(todo, min(jobs, len(todo)), finish)
        else:
            for index in todo:
                with stdout_to_stderr():
                    message = json.loads(_verify_to_message(derivations[index], config))
                finish(index, message)
    finally:
        _WORK = ()
    return reports


# Worker processes ---------------------------------------------------------------------------


def _worker_main(connection) -> None:
    """A worker: verify the derivations whose indices arrive, send back each report as JSON."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    os.dup2(2, 1)  # nothing a derivation prints may reach the parent's stdout
    sys.stdout = sys.stderr
    while True:
        try:
            index = connection.recv()
        except (EOFError, OSError):
            return
        if index is None:
            return
        connection.send_bytes(_verify_to_message(_WORK[index], _CONFIG))


class _Worker:
    def __init__(self, context):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child,), name="symformer-verify")
        self.process.start()
        child.close()
        self.index: int | None = None
        self.deadline = 0.0
        self.limit = 0.0

    def assign(self, index: int) -> None:
        self.index = index
        self.limit = wall_clock_limit(_WORK[index], _CONFIG)
        self.deadline = time.monotonic() + self.limit
        self.connection.send(index)

    def stop(self, kill: bool = False) -> None:
        if not kill and self.process.is_alive():
            try:
                self.connection.send(None)
            except (OSError, ValueError):
                kill = True
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


def _failure(derivation: Derivation, message: str) -> dict:
    return {"report": _error_report(derivation, message), "dependencies": {}}


def _run_in_workers(todo: list, jobs: int, finish: Callable[[int, dict], None]) -> None:
    context = multiprocessing.get_context("fork")
    queue = list(todo)
    workers: list = []
    try:
        while queue or any(w.index is not None for w in workers):
            for worker in workers:
                if worker.index is None and queue:
                    worker.assign(queue.pop(0))
            while queue and len(workers) < jobs:
                workers.append(_Worker(context))
                workers[-1].assign(queue.pop(0))
            busy = [w for w in workers if w.index is not None]
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = multiprocessing.connection.wait([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout)
            for worker in busy:
                data = None
                if worker.connection in ready:
                    try:
                        data = worker.connection.recv_bytes()
                    except (EOFError, OSError):
                        data = None
                if data is not None:
                    index, worker.index = worker.index, None
                    finish(index, json.loads(data))
                    continue
                derivation = _WORK[worker.index]
                if worker.process.sentinel in ready or worker.connection in ready:
                    worker.process.join(1.0)
                    message = (f"the worker verifying it ended (exit code {worker.process.exitcode}) without a report; "
                               "does its code call os._exit or crash Python?")
                elif time.monotonic() >= worker.deadline:
                    message = (f"did not finish within {worker.limit:g} s (the wall-clock limit of a worker); "
                               "is its code stuck where no time bound reaches, such as a loop in C?")
                else:
                    continue
                index = worker.index
                worker.stop(kill=True)
                workers.remove(worker)
                finish(index, _failure(derivation, message))
    finally:
        for worker in workers:
            worker.stop(kill=worker.index is not None)
