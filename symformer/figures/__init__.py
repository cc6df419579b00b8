"""The course's figures, each a function returning a matplotlib Figure; matplotlib is imported inside
the function, so importing symformer stays fast.
"""
