"""Running an instructor's own code (imports, witnesses, references) and knowing which code it is.

What such code writes to standard output goes to standard error instead: ``symformer verify --json``
prints one JSON document on stdout, and a ``print()`` at import must not corrupt it. Both the
Python-level ``sys.stdout`` and file descriptor 1 are redirected, so C extensions and child
processes are covered too.

A verdict depends on the instructor's own modules a derivation imports (helpers such as
``_helpers.py``, which discovery skips): ``local_modules`` lists them, so the cache can hash them
and discovery can import them afresh when they change.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import site
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path


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


# The instructor's own modules ---------------------------------------------------------------------

#: Module names discovery gives derivation files (see catalog._module_name).
DERIVATION_MODULE_PREFIX = "symformer_derivations_"


@lru_cache(maxsize=1)
def _installed_roots() -> tuple:
    """Folders of code that is installed rather than written here: the standard library, site-packages, symformer."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values()}
    with contextlib.suppress(Exception):
        roots.update(site.getsitepackages())
    with contextlib.suppress(Exception):
        roots.add(site.getusersitepackages())
    roots.add(str(Path(__file__).resolve().parent.parent))  # symformer itself: its source is in the cache key
    return tuple(sorted({Path(r).resolve() for r in roots if r}))


def is_local_file(path) -> bool:
    """A file of the instructor's own code: not in the standard library, an installed package or symformer."""
    return _is_local(str(path))


@lru_cache(maxsize=None)
def _is_local(path: str) -> bool:
    try:
        path = Path(path).resolve()
    except (OSError, RuntimeError, TypeError):
        return False
    if not path.is_file() or any(part in ("site-packages", "dist-packages") for part in path.parts):
        return False
    return not any(path.is_relative_to(root) for root in _installed_roots())


def local_modules(exclude: str | None = None) -> dict:
    """Module name -> file of every imported module that is the instructor's own code.

    Derivation files imported by discovery are left out (each one's own source is hashed with its
    derivations); ``exclude`` names one more module to leave out.
    """
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith(DERIVATION_MODULE_PREFIX) or name == exclude:
            continue
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and is_local_file(file):
            found[name] = str(Path(file).resolve())
    return found


def file_digest(path) -> str | None:
    """SHA-256 of a file's bytes, or None when it cannot be read (gone, unreadable)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None
