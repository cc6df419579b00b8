"""What a building block is: one SymPy matrix expression class holding all of its faces.

A block subclasses :class:`Block` and defines, side by side:

- ``_latex(printer)``: its readable LaTeX;
- ``_entry(i, j)`` and ``doit()``: its explicit form at concrete sizes, which the exact proofs expand;
- ``numpy_function``: a static method of NumPy arrays and integers using only ``np``, which the
  evaluator calls and which generated code copies verbatim;
- ``numpy_arguments()``: the arguments of ``numpy_function``: matrix expressions (evaluated
  first), integer sizes (made concrete), or Python strings (passed as they are);
- ``general_entry(i, j, translator)``, optionally: its entry (i, j) at symbolic sizes in 1-based
  index notation, so that identities using it are proved for every size. ``translator.entry(expr,
  i, j)`` gives the entries of its arguments; a block without one raises :class:`Untranslatable`.

Adding a block is adding one such class; the evaluator and the code generator need no new rule.
"""

from __future__ import annotations

import sympy as sp


class Untranslatable(Exception):
    """A matrix expression has no general entry in index notation (its identities are proved per size)."""


class Block(sp.MatrixExpr):
    """Base class of matrix-level building blocks (see the module docstring for what one defines)."""

    @staticmethod
    def numpy_function(*arguments):  # pragma: no cover - every block overrides it
        raise NotImplementedError

    def numpy_arguments(self) -> tuple:  # pragma: no cover - every block overrides it
        raise NotImplementedError

    def general_entry(self, i, j, translator):
        """Entry (i, j), 1-based, at symbolic sizes; see the module docstring."""
        raise Untranslatable(f"{type(self).__name__} has no general entry")
