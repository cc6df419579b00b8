"""symformer: verified derivations of the mathematics of transformers.

A :class:`Derivation` is a chain of justified steps; :func:`verify` checks each step symbolically
(for general sizes where it can, else for every small size) and numerically in float64, and
:func:`catalog` holds the built-in course.

>>> from symformer import catalog, verify
>>> verify(catalog()["softmax-jacobian"]).ok
True

The rest lives in subpackages: the NumPy references in :mod:`symformer.reference` (also reachable
as ``symformer.softmax`` and so on, for convenience), matrix building blocks and code generation in
:mod:`symformer.blocks`, WordPiece in :mod:`symformer.tokenizer`, figures in
:mod:`symformer.figures`, LaTeX printing in :mod:`symformer.notation` and the exporters in
:mod:`symformer.export`.
"""

from symformer.engine.catalog import Catalog, catalog, discover
from symformer.engine.derive import derive
from symformer.engine.domains import Domain
from symformer.engine.general import (
    all_hold, identity_for_all, matrix_identity_for_all, next_row_enters, nonnegative_terms, positive_terms,
    rows_after_do_not_enter,
)
from symformer.engine.model import Claim, Derivation, Figure, Gradient, Jacobian, Property, Size, Step, Witness
from symformer.engine.results import Report, VerifyConfig
from symformer.engine.verify import verify
from symformer._version import __version__  # noqa: F401  (symformer.__version__)
from symformer.errors import DerivationError, InputError, LoadError, SymformerError, UnknownDerivation, UsageError
from symformer.notation.printer import Style

__all__ = [
    "Catalog", "Claim", "Derivation", "DerivationError", "Domain", "Figure", "Gradient", "InputError", "Jacobian",
    "LoadError", "Property", "Report", "Size", "Step", "Style", "SymformerError", "UnknownDerivation", "UsageError",
    "VerifyConfig", "Witness", "all_hold", "catalog", "derive", "discover", "identity_for_all", "matrix_identity_for_all",
    "next_row_enters", "nonnegative_terms", "positive_terms", "rows_after_do_not_enter", "verify",
]



def __getattr__(name: str):
    # The NumPy references are public from symformer.reference; ``symformer.softmax`` reads the same object.
    from symformer import reference

    if name in reference.__all__:
        return getattr(reference, name)
    raise AttributeError(f"module 'symformer' has no attribute {name!r}")
