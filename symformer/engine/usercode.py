"""Running an instructor's own code (imports, witnesses, references) without letting it take over.

What such code writes to standard output goes to standard error instead: ``symformer verify --json``
prints one JSON document on stdout, and a ``print()`` at import must not corrupt it. Both the
Python-level ``sys.stdout`` and file descriptor 1 are redirected, so C extensions and child
processes are covered too.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to stdout inside the block to stderr."""
    for stream in (sys.stdout, sys.__stdout__):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = None
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no file descriptors to redirect (an embedded interpreter): the Python level still is
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
