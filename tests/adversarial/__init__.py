"""An adversarial suite: realistic instructor mistakes across the course, and correct derivations that
are equal in non-obvious ways. Each topic module lists ``WRONG`` and ``CORRECT`` cases as data; a
wrong case names the checks that must fail. ``tests/test_adversarial.py`` runs them.
"""

import importlib

TOPICS = ("softmax", "attention", "attention_backward", "masks", "multi_head", "positional", "layernorm", "embeddings",
          "tokenization", "counts")


def cases(kind: str) -> list:
    """Every case of one kind ("WRONG" or "CORRECT"), topic by topic."""
    return [case for topic in TOPICS for case in getattr(importlib.import_module(f"adversarial.{topic}"), kind)]
