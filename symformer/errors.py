"""The one error family of symformer: every message names what was wrong and what to do."""


class SymformerError(Exception):
    """Base class of every error symformer raises on purpose."""


class UsageError(SymformerError):
    """Bad arguments or bad input data given by the user."""


class DerivationError(SymformerError):
    """A derivation is malformed: inconsistent shapes, unknown symbols, a bad declaration."""


class UnknownDerivation(UsageError):
    """A name that is not in the catalog; the message suggests the closest names."""


class LoadError(SymformerError):
    """A derivation file that could not be imported."""
