"""Run symbolic work under a time bound, so that no check can hang.

SymPy is pure Python, so a SIGALRM timer interrupts it between bytecodes. Timers only work in the
main thread; elsewhere the work runs in a daemon thread that is abandoned when its time is up (the
caller gets its answer on time, the thread finishes or dies with the process). Code stuck in C
(a NumPy call, a regular expression) is not interrupted here: the batch runner verifies each
derivation in a worker process with a wall-clock limit for that.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, TypeVar

T = TypeVar("T")

#: After the bound, the alarm fires again this often until the work gives up.
REPEAT_SECONDS = 0.05


class TimeBoundExceeded(BaseException):
    """The work did not finish within its bound.

    A BaseException, like KeyboardInterrupt: user code and SymPy catch ``Exception`` broadly, and a
    timeout they swallowed would let the work run on unbounded.
    """


@contextmanager
def _alarm(seconds: float):
    def on_alarm(signum, frame):
        raise TimeBoundExceeded(f"symbolic work exceeded {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    previous_hook = sys.unraisablehook

    def unraisable(report):
        # an alarm that lands in a callback Python cannot raise from (a gc callback, a __del__) is
        # swallowed there; the repeating timer interrupts the work itself a moment later
        if not isinstance(report.exc_value, TimeBoundExceeded):
            previous_hook(report)

    sys.unraisablehook = unraisable
    # the timer repeats: work that catches even BaseException once is interrupted again
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.unraisablehook = previous_hook


def run_bounded(work: Callable[[], T], seconds: float) -> T:
    """Return ``work()``, or raise TimeBoundExceeded after ``seconds``.

    >>> run_bounded(lambda: 1 + 1, 1.0)
    2
    """
    if seconds <= 0:
        raise ValueError("the time bound must be positive")
    if threading.current_thread() is threading.main_thread():
        with _alarm(seconds):
            return work()
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeBoundExceeded(f"symbolic work exceeded {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
