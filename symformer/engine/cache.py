"""Verification results cached by content hash, so an unchanged derivation is not verified twice.

The key covers everything a verdict depends on: the derivation's expressions and texts (``srepr``
is exact), the source file it came from (claims and results hold code), the verification settings,
and the engine's own source. The cache lives in ``$SYMFORMER_CACHE_DIR``, else
``$XDG_CACHE_HOME/symformer``, else ``~/.cache/symformer``; entries are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import sympy as sp

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
    path = cache_dir() / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def store(key: str, report: dict) -> None:
    write_atomically(cache_dir() / f"{key}.json", json.dumps(report))


def write_atomically(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
