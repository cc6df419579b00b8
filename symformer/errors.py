"""The one error family of symformer: every message names what was wrong and what to do."""

import errno


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


class OutputError(SymformerError):
    """A file or folder could not be written: the message names the path, the reason and what to do."""

    @classmethod
    def from_os_error(cls, path, error: OSError, action: str = "write", remedy: str = "") -> "OutputError":
        """The error for ``error`` raised while trying to ``action`` ``path``; ``remedy`` replaces the advice.

        >>> import errno
        >>> print(OutputError.from_os_error("out/notes.tex", OSError(errno.ENOSPC, "No space left on device")))
        cannot write out/notes.tex: No space left on device; free some space, then run the command again
        """
        return cls(f"cannot {action} {path}: {advice(error, remedy)}")


def advice(error: OSError, remedy: str = "") -> str:
    """What went wrong and what to do, for an OSError: its reason, then the usual remedy for its errno.

    >>> import errno
    >>> advice(OSError(errno.EROFS, "Read-only file system"))
    'Read-only file system; the file system is read-only; choose a location you can write to'
    """
    reason = error.strerror or str(error) or type(error).__name__
    return f"{reason}; {remedy or _REMEDIES.get(error.errno, _REMEDY)}"


_REMEDY = "check the path and its permissions, then run the command again"
_WRITABLE = "choose a location you can write to"
_REMEDIES = {
    errno.ENOSPC: "free some space, then run the command again",
    errno.EDQUOT: "free some space (the disk quota is used up), then run the command again",
    errno.EROFS: f"the file system is read-only; {_WRITABLE}",
    errno.EACCES: f"you may not write there; {_WRITABLE}, or change its permissions",
    errno.EPERM: f"you may not write there; {_WRITABLE}, or change its permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EISDIR: "it is a folder; give a file name",
    errno.EEXIST: "a file of that name is in the way; move it or choose another path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
}


class LatexError(UsageError):
    """LaTeX that cannot be read: the message names the line and column and what was expected there."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line, self.column = line, column


class LatexShapeError(LatexError):
    """Readable LaTeX whose matrix shapes do not fit (an undefined product, a sum of two shapes): a wrong formula."""
