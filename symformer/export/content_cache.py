"""What exporting computed, kept by content beside the verdicts: a worked example's numbers, KaTeX's HTML.

The verdict cache holds verification reports only (it checks each against the report schema), so
other results keep their own entries: ``$SYMFORMER_CACHE_DIR/KIND/KEY.json``, holding the body and
a digest that binds it to its kind and key. An entry that is missing, not JSON, of another format,
or whose digest does not match is a miss, and the caller computes the result again. Like the
verdict cache's digest, this detects damage and careless edits, not a deliberate forgery. An
unusable cache folder is skipped with the cache's one warning.

>>> import os, tempfile
>>> os.environ["SYMFORMER_CACHE_DIR"] = tempfile.mkdtemp()
>>> store("examples", "k", [1, 2])
>>> load("examples", "k"), load("examples", "other"), load("katex", "k")
([1, 2], None, None)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from symformer._files import write_atomically
from symformer.engine.cache import cache_dir, warn_unusable

#: The layout of an entry; entries of another format are misses.
FORMAT = 1


def _digest(kind: str, key: str, body) -> str:
    text = json.dumps({"format": FORMAT, "kind": kind, "key": key, "body": body}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _path(kind: str, key: str) -> Path:
    return cache_dir() / kind / f"{key}.json"


def load(kind: str, key: str):
    """The body kept under ``kind`` and ``key``, or None when there is none that can be trusted."""
    try:
        entry = json.loads(_path(kind, key).read_text())
    except (OSError, ValueError, RuntimeError):
        return None
    if not isinstance(entry, dict) or set(entry) != {"format", "kind", "key", "body", "digest"}:
        return None
    if entry["format"] != FORMAT or entry["kind"] != kind or entry["key"] != key:
        return None
    try:
        if entry["digest"] != _digest(kind, key, entry["body"]):
            return None
    except (TypeError, ValueError):
        return None
    return entry["body"]


def store(kind: str, key: str, body) -> None:
    """Keep ``body`` (anything JSON can hold) under ``kind`` and ``key``."""
    entry = {"format": FORMAT, "kind": kind, "key": key, "body": body, "digest": _digest(kind, key, body)}
    try:
        write_atomically(_path(kind, key), json.dumps(entry), private=True)
    except (OSError, RuntimeError) as exc:
        warn_unusable(exc)


__all__ = ["load", "store"]
