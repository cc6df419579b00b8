"""Independent NumPy implementations: the numeric oracles the symbolic results are checked against.

Nothing here imports SymPy or the derivation engine, so a bug in one cannot hide a bug in the other.
"""
