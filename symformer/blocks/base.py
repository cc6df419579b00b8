"""What a building block is: one SymPy matrix expression class holding all of its faces.

A block subclasses :class:`Block` and defines, side by side:

- ``_latex(printer)``: its readable LaTeX;
- ``_entry(i, j)`` and ``doit()``: its explicit form at concrete sizes, which the exact proofs expand;
- ``numpy_function``: a static method of NumPy arrays and integers using only ``np``, which the
  evaluator calls and which generated code copies verbatim;
- ``numpy_arguments()``: the arguments of ``numpy_function``: matrix expressions (evaluated
  first), integer sizes (made concrete), or Python strings (passed as they are).

Adding a block is adding one such class; the evaluator and the code generator need no new rule.
"""

from __future__ import annotations

import sympy as sp


class Block(sp.MatrixExpr):
    """Base class of matrix-level building blocks (see the module docstring for what one defines)."""

    @staticmethod
    def numpy_function(*arguments):  # pragma: no cover - every block overrides it
        raise NotImplementedError

    def numpy_arguments(self) -> tuple:  # pragma: no cover - every block overrides it
        raise NotImplementedError
