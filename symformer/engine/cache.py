"""Verification results cached by content hash, so an unchanged derivation is not verified twice.

A cached verdict is served only for exactly what was verified, and only as it was written:

- the key covers everything a verdict depends on: the derivation's expressions and texts (``srepr``
  is exact), the source file it came from (claims and results hold code), the instructor's own
  modules imported so far that lie in the derivation's project (a ``_helpers.py`` beside it, which
  discovery skips), the verification settings (seed, time bound, tolerances), symformer's version
  and the digest of its verdict-making source, and the versions of Python, SymPy and NumPy;
- an entry also lists the instructor's modules that were imported when the verdict was made (some
  are imported only while verifying) with their digests; one that changed voids the entry;
- an entry is bound to its key by a digest, and its report must pass the report schema and agree
  with itself (a check's ``ok`` and ``level`` are recomputed from its methods). An entry edited to
  ``"ok": true``, of the wrong shape, or copied to another key is discarded and verified again.

The digest detects corruption and careless edits, not a deliberate forgery: anyone who can write the
cache can recompute it. The cache lives in ``$SYMFORMER_CACHE_DIR``, else ``$XDG_CACHE_HOME/symformer``,
else ``~/.cache/symformer``; entries are written atomically and readable by their owner only. A cache
that cannot be read or written (a read-only folder, a path that is a file) is no cache: verification
goes on, with one warning on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import sympy as sp

from symformer._files import write_atomically
from symformer.engine.model import Claim, Derivation
from symformer.engine.results import report_from_dict
from symformer.engine.usercode import file_digest, local_modules

#: The layout of an entry; entries of another format are discarded.
FORMAT = 2

#: Files whose presence marks a project's root folder.
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def cache_dir() -> Path:
    explicit = os.environ.get("SYMFORMER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "symformer"


#: Modules that cannot change a verdict: presentation, command line, tokenizer.
_NOT_VERDICT = ("cli", "export", "figures", "notation")  # subpackages no verdict depends on


@lru_cache(maxsize=1)
def _engine_digest() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] not in _NOT_VERDICT:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _versions() -> str:
    import numpy

    from symformer._version import __version__

    return f"symformer {__version__}; python {platform.python_version()}; sympy {sp.__version__}; numpy {numpy.__version__}"


def project_root(source) -> Path:
    """The folder of the project a derivation file belongs to: the nearest one holding a project marker,
    else the file's own folder."""
    folder = Path(source).resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def content_hash(derivation: Derivation, config) -> str:
    """A key that changes whenever anything the verdict depends on changes."""
    digest = hashlib.sha256()
    parts = [derivation.slug, derivation.title, sp.srepr(derivation.lhs)]
    parts += [sp.srepr(s.expr) + s.why for s in derivation.steps]
    for claim in derivation.claims:
        parts.append(claim.statement + (sp.srepr(claim.lhs) + sp.srepr(claim.rhs) if isinstance(claim, Claim) else ""))
    parts += [sp.srepr(k) + sp.srepr(v) for k, v in derivation.definitions.items()]
    parts += [f"{k}:{v}" for k, v in derivation.sizes.items()] + [f"{k}:{v}" for k, v in derivation.indices.items()]
    # a Domain's repr holds the addresses of its functions, new in every process; its code is in the
    # source file (hashed below) or the engine, so its name identifies it
    parts += [f"{k}:{getattr(v, 'name', v)}" for k, v in derivation.domains.items()]
    parts.append(json.dumps(asdict(config), sort_keys=True))
    parts.append(_versions())
    parts.append(_engine_digest())
    if derivation.source and Path(derivation.source).is_file():
        parts.append(file_digest(derivation.source) or "unreadable")
        root = project_root(derivation.source)
        for name, file in sorted(local_modules().items()):
            if Path(file).is_relative_to(root):
                parts.append(f"{name}:{file_digest(file)}")
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def dependencies() -> dict:
    """File -> digest of the instructor's own modules imported now: what a verdict just made depended on."""
    return {file: file_digest(file) for file in sorted(set(local_modules().values()))}


def _entry_digest(key: str, report: dict, depends_on: dict) -> str:
    body = json.dumps({"format": FORMAT, "key": key, "report": report, "dependencies": depends_on},
                      sort_keys=True, allow_nan=False)
    return hashlib.sha256(body.encode()).hexdigest()


def load(key: str) -> dict | None:
    """The cached report for ``key``, or None when there is none that can be trusted."""
    try:
        entry = json.loads((cache_dir() / f"{key}.json").read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # not JSON: a miss, which the next store replaces
        return None
    except (OSError, RuntimeError) as exc:  # RuntimeError: no home folder to put the cache in
        warn_unusable(exc)
        return None
    if not isinstance(entry, dict) or set(entry) != {"format", "key", "report", "dependencies", "digest"}:
        return None
    report, depends_on = entry["report"], entry["dependencies"]
    if entry["format"] != FORMAT or entry["key"] != key or not isinstance(depends_on, dict):
        return None
    if not all(isinstance(f, str) and isinstance(d, str) for f, d in depends_on.items()):
        return None
    try:
        if entry["digest"] != _entry_digest(key, report, depends_on):
            return None
    except (TypeError, ValueError):
        return None
    if report_from_dict(report) is None:
        return None
    if any(file_digest(file) != digest for file, digest in depends_on.items()):
        return None  # a module it imported has changed since
    return report


def store(key: str, report: dict, depends_on: dict | None = None) -> None:
    """Write ``report`` under ``key``, with the digests of the modules it depended on."""
    if report_from_dict(report) is None:
        return  # never write what load would discard
    depends_on = dict(depends_on or {})
    entry = {"format": FORMAT, "key": key, "report": report, "dependencies": depends_on,
             "digest": _entry_digest(key, report, depends_on)}
    try:
        write_atomically(cache_dir() / f"{key}.json", json.dumps(entry, allow_nan=False), private=True)
    except (OSError, RuntimeError) as exc:
        warn_unusable(exc)


_warned = False


def warn_unusable(error: Exception) -> None:
    """Say once per process, on stderr, that the cache is not used and why (``error``, an OSError)."""
    global _warned
    if _warned:
        return
    _warned = True
    try:
        where = str(cache_dir())
    except RuntimeError:
        where = "the cache folder"
    reason = getattr(error, "strerror", None) or str(error)
    print(f"warning: verdicts are not cached: {where}: {reason}; verification goes on without the cache "
          "(set SYMFORMER_CACHE_DIR to a folder you can write to)", file=sys.stderr, flush=True)
