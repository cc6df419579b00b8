"""Verification results cached by content hash, so an unchanged derivation is not verified twice.

The key covers everything a verdict depends on: the derivation's expressions and texts (``srepr``
is exact), the source file it came from (claims and results hold code), the verification settings,
and the engine's own source. The cache lives in ``$SYMFORMER_CACHE_DIR``, else
``$XDG_CACHE_HOME/symformer``, else ``~/.cache/symformer``; entries are written atomically and
readable by their owner only. A cache that cannot be read or written (a read-only folder, a path
that is a file) is no cache: verification goes on, with one warning on stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import sympy as sp

from symformer._files import write_atomically
from symformer.engine.model import Claim, Derivation


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
            digest.update(path.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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
    parts.append(_engine_digest())
    if derivation.source and Path(derivation.source).is_file():
        parts.append(_file_digest(derivation.source, Path(derivation.source).stat().st_mtime_ns))
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def load(key: str) -> dict | None:
    try:
        return json.loads((cache_dir() / f"{key}.json").read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # an entry that is not JSON is a miss; the next store replaces it
        return None
    except (OSError, RuntimeError) as exc:  # RuntimeError: no home folder to put the cache in
        _unusable(exc)
        return None


def store(key: str, report: dict) -> None:
    try:
        write_atomically(cache_dir() / f"{key}.json", json.dumps(report), private=True)
    except (OSError, RuntimeError) as exc:
        _unusable(exc)


_warned = False


def _unusable(error: Exception) -> None:
    """Say once per process that the cache is not used, and why."""
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
