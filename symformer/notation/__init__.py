"""How mathematics is written: the course's LaTeX printer and its Style, escaping of text, layout
metrics, and plain-text rendering for the terminal.
"""

from symformer.notation.chain import derivation_to_latex
from symformer.notation.escape import escape_plain, escape_text, prose_in_math
from symformer.notation.printer import DEFAULT_STYLE, CoursePrinter, Style, step_latex, to_latex
from symformer.notation.text import derivation_to_text, expression_to_text, plain_text

__all__ = ["DEFAULT_STYLE", "CoursePrinter", "Style", "derivation_to_latex", "derivation_to_text", "escape_plain",
           "escape_text", "expression_to_text", "plain_text", "prose_in_math", "step_latex", "to_latex"]
