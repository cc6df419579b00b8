"""The version of symformer, in one place (the cache key and ``--version`` read it)."""

__version__ = "0.1.0"
