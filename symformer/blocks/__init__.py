"""Matrix-level building blocks (row-softmax, masks, permutations), each one class with its LaTeX, its
explicit form and its NumPy rule; and NumPy code generation from closed forms.
"""

from symformer.blocks.attention import CausalMask, MaskedEntries, PaddingMask, PermutationMatrix, RowSoftmax
from symformer.blocks.codegen import compile_numpy, to_numpy_source

__all__ = ["CausalMask", "MaskedEntries", "PaddingMask", "PermutationMatrix", "RowSoftmax", "compile_numpy",
           "to_numpy_source"]
