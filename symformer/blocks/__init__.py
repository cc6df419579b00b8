"""Matrix-level building blocks (row-softmax, masks, permutations), each one class with its LaTeX, its
explicit form and its NumPy rule; and NumPy code generation from closed forms.
"""
