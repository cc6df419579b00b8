"""The one error family of symformer: every message names what was wrong and what to do."""


class SymformerError(Exception):
    """Base class of every error symformer raises on purpose."""


class UsageError(SymformerError):
    """Bad arguments or bad input data given by the user."""


class InputError(UsageError, ValueError):
    """Bad input to a NumPy reference: a wrong shape, dtype or value; the message names the argument.

    A ValueError too, so code written against NumPy's conventions catches it.
    """


class DerivationError(SymformerError):
    """A derivation is malformed: inconsistent shapes, unknown symbols, a bad declaration."""


class UnknownDerivation(UsageError):
    """A name that is not in the catalog; the message suggests the closest names."""


class LoadError(SymformerError):
    """A derivation file that could not be imported."""


class VocabularyError(UsageError):
    """A WordPiece vocabulary that cannot be used: missing unknown token, duplicates, unreadable file."""


class CorpusError(UsageError):
    """A training corpus that cannot be used: empty, unreadable, not text."""


class LatexError(UsageError):
    """LaTeX that cannot be read: the message names the line and column and what was expected there."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line, self.column = line, column


class LatexShapeError(LatexError):
    """Readable LaTeX whose matrix shapes do not fit (an undefined product, a sum of two shapes): a wrong formula."""
