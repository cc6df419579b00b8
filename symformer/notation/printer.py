"""LaTeX for expressions: one notation for the whole course, set in one :class:`Style`.

The printer is SymPy's, taught the course's notation: subscripted indices (z_i, not z[i]),
\\delta_{ij}, partial derivatives written as fractions of the symbols on the slide, the transpose
and the Hadamard product as the style says, and no SymPy internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy.printing.latex import LatexPrinter, accepted_latex_functions
from sympy.printing.precedence import PRECEDENCE, precedence_traditional
from sympy.simplify.radsimp import fraction

from symformer.errors import DerivationError


@dataclass(frozen=True)
class Style:
    r"""The notation of the course, in one place: every export prints through it.

    >>> to_latex(sp.Transpose(sp.MatrixSymbol("K", 3, 2)), Style(transpose="^{T}", bold_matrices=True))
    '\\mathbf{K}^{T}'
    """

    bold_matrices: bool = False
    transpose: str = r"^{\top}"
    hadamard: str = r"\odot"
    exp_as_power: bool | None = None  # None: e^{x} for short exponents, \exp(x) for long ones
    operators: tuple = ("softmax", "diag", "rowsoftmax", "LayerNorm", "Attention", "MultiHead", "Concat", "rowsum")
    elementwise: str = r"_{\circ}"  # marks a scalar function applied entry by entry: \exp_{\circ}(S)


DEFAULT_STYLE = Style()

_LATEX_FUNCTIONS = set(accepted_latex_functions) | {"exp", "log", "tanh", "sinh", "cosh", "max", "min"}

#: Exponents longer than this (in printed characters) switch e^{x} to \exp(x) when exp_as_power is None.
SHORT_EXPONENT = 14

def _factor_rank(factor) -> int:
    """Where a factor goes in a printed product, as a person writes it: 2 pi, then powers of numbers,
    letters, exponentials and derivatives, brackets, sums, and functions with their argument in
    brackets last, so (c_a - k) log(c_a - k) and e^{z_i} (delta_ij - p_j), never the other way round."""
    if factor.is_Number:
        return 0
    if isinstance(factor, sp.NumberSymbol):
        return 1
    if isinstance(factor, sp.Pow) and factor.base.is_Number:
        return 2
    if isinstance(factor, (sp.Symbol, sp.Indexed, sp.KroneckerDelta, sp.MatrixSymbol)):
        return 3
    if isinstance(factor, sp.Pow) and isinstance(factor.base, (sp.Symbol, sp.Indexed)):
        return 3
    if isinstance(factor, sp.exp):
        return 4
    if isinstance(factor, sp.Derivative):
        return 4
    if isinstance(factor, sp.Add):
        return 5
    if isinstance(factor, sp.Sum):
        return 6
    return 7


class CoursePrinter(LatexPrinter):
    """SymPy's LaTeX printer in the course's notation.

    Products read as on a blackboard (numbers, then letters, then functions, sums and brackets),
    sums put their positive terms first, and SymPy's internal forms (lambdas, PermuteDims, array
    expressions) never reach the page: the ones with a readable form get it, the others raise.
    """

    def __init__(self, style: Style = DEFAULT_STYLE):
        super().__init__({"mat_symbol_style": "bold" if style.bold_matrices else "plain", "mul_symbol": None,
                          "order": "none", "mat_str": "pmatrix", "mat_delim": ""})
        self.style = style
        self._inline_fractions = False

    # Sums and products -----------------------------------------------------------------------
    def _as_ordered_terms(self, expr, order=None):
        terms = list(expr.as_ordered_terms())
        return sorted(terms, key=lambda t: bool(t.could_extract_minus_sign()))

    def _print_Mul(self, expr):
        if not expr.is_commutative:
            return super()._print_Mul(expr)
        if expr.could_extract_minus_sign():
            positive = -expr
            text = self._print(positive)
            return "- " + (rf"\left({text}\right)" if positive.is_Add else text)
        numerator, denominator = fraction(expr, exact=True)
        if denominator is not sp.S.One:
            if self._inline_fractions:  # z_i / T reads better than a fraction in an exponent
                top, bottom = (self.parenthesize(part, PRECEDENCE["Mul"]) for part in (numerator, denominator))
                return f"{top} / {bottom}"
            return rf"\frac{{{self._print(numerator)}}}{{{self._print(denominator)}}}"
        if not numerator.is_Mul:
            return self._print(numerator)
        factors = sorted(numerator.as_ordered_factors(), key=_factor_rank)
        pieces = []
        for position, factor in enumerate(factors):
            text = self._print(factor)
            if self._needs_mul_brackets(factor, first=position == 0, last=position == len(factors) - 1):
                text = rf"\left({text}\right)"
            if pieces and (factor.is_Number or text[:1].isdigit()):
                pieces.append(r"\cdot")  # 2 \cdot 10000^{x}, never the digits 2 10000^{x}
            pieces.append(text)
        return " ".join(pieces)

    def _print_MatMul(self, expr):
        scalars = [a for a in expr.args if not getattr(a, "is_Matrix", False)]
        matrices = [a for a in expr.args if getattr(a, "is_Matrix", False)]
        if not scalars:
            return super()._print_MatMul(expr)
        coefficient = sp.Mul(*scalars)
        if coefficient.could_extract_minus_sign():
            return "- " + self._print_MatMul(sp.MatMul(-coefficient, *matrices)) if -coefficient != 1 else \
                "- " + self._print_MatMul(sp.MatMul(*matrices))
        head = self._print(coefficient)
        if coefficient.is_Add:
            head = rf"\left({head}\right)"
        rest = " ".join(self.parenthesize(m, precedence_traditional(expr), False) for m in matrices)
        return f"{head} {rest}"

    def _print_Sum(self, expr):
        # one \sum per index, outermost first, instead of SymPy's stacked \substack limits
        text = ""
        for symbol, low, high in reversed(expr.limits):
            text += rf"\sum_{{{self._print(symbol)}={self._print(low)}}}^{{{self._print(high)}}} "
        body = self._print(expr.function)
        if expr.function.is_Add:
            body = rf"\left({body}\right)"
        return text + body

    # Indices ---------------------------------------------------------------------------------
    def _print_Indexed(self, expr):
        base = self._print(expr.base.label)
        indices = "".join(self._print(i) for i in expr.indices)
        if any(len(self._print(i)) > 1 for i in expr.indices):
            indices = ",".join(self._print(i) for i in expr.indices)
        return f"{base}_{{{indices}}}"

    def _print_KroneckerDelta(self, expr, exp=None):
        i, j = (self._print(a) for a in expr.args)
        sep = "," if len(i) > 1 or len(j) > 1 else ""
        text = rf"\delta_{{{i}{sep}{j}}}"
        return f"{text}^{{{exp}}}" if exp else text

    # Calculus --------------------------------------------------------------------------------
    def _print_Derivative(self, expr):
        function = self._print(expr.expr)
        if len(expr.variable_count) == 1 and expr.variable_count[0][1] == 1:
            variable = self._print(expr.variable_count[0][0])
            if isinstance(expr.expr, (sp.Indexed, sp.Symbol, sp.MatrixSymbol)):
                return rf"\frac{{\partial {function}}}{{\partial {variable}}}"
            return rf"\frac{{\partial}}{{\partial {variable}}} \left({function}\right)"
        return super()._print_Derivative(expr)

    # Functions -------------------------------------------------------------------------------
    def _print_exp(self, expr, exp=None):
        self._inline_fractions, outer = True, self._inline_fractions
        try:
            exponent = self._print(expr.args[0])
        finally:
            self._inline_fractions = outer
        power = self.style.exp_as_power
        if power is None:
            power = len(exponent) <= SHORT_EXPONENT and r"\frac" not in exponent
        text = rf"e^{{{exponent}}}" if power else rf"\exp\left({exponent}\right)"
        if exp:
            return rf"\left({text}\right)^{{{exp}}}" if power else f"{text}^{{{exp}}}"
        return text

    def _print_log(self, expr, exp=None):
        argument = expr.args[0]
        inner = self._print(argument)
        if isinstance(argument, (sp.Symbol, sp.Indexed)) or argument.is_Number:
            text = rf"\log {inner}"
        else:
            text = rf"\log\left({inner}\right)"
        return rf"\left({text}\right)^{{{exp}}}" if exp else text

    def _print_Symbol(self, expr, style="plain"):
        # a word as subscript is a label, set upright: d_model is d_{\text{model}}, d_k stays d_{k}
        head, _, tail = expr.name.partition("_")
        if head and len(tail) >= 3 and tail.isalpha() and "_" not in tail and "^" not in expr.name:
            return f"{self._print(sp.Symbol(head))}_{{\\text{{{tail}}}}}"
        return super()._print_Symbol(expr, style)

    def _print_trig(self, expr, exp=None):
        # sin(omega p), not SymPy's \sin{\left(\omega p \right)}: plain brackets around a plain argument
        argument = self._print(expr.args[0])
        plain = not any(c in argument for c in ("\\frac", "\\sum", "\\left", "^"))
        power = f"^{{{exp}}}" if exp else ""
        return rf"\{expr.func.__name__}{power}" + (f"({argument})" if plain else rf"\left({argument}\right)")

    _print_sin = _print_cos = _print_tan = _print_trig

    def _print_Function(self, expr, exp=None):
        name = expr.func.__name__
        if name in self.style.operators:
            arguments = ", ".join(self._print(a) for a in expr.args)
            text = rf"\operatorname{{{name}}}\left({arguments}\right)"
            return f"{text}^{{{exp}}}" if exp else text
        return super()._print_Function(expr, exp)

    # Matrices --------------------------------------------------------------------------------
    def _print_Transpose(self, expr):
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol):
            inner = rf"\left({inner}\right)"
        elif "^" in inner:  # W^{O}_{1}: a second superscript needs the name in braces
            inner = f"{{{inner}}}"
        return inner + self.style.transpose

    def _print_HadamardProduct(self, expr):
        return f" {self.style.hadamard} ".join(self.parenthesize(a, 60) for a in expr.args)

    def _print_HadamardPower(self, expr):
        base = self._print(expr.base)
        if not isinstance(expr.base, sp.MatrixSymbol):
            base = rf"\left({base}\right)"
        return rf"{base}^{{\circ {self._print(expr.exp)}}}"

    def _print_ElementwiseApplyFunction(self, expr):
        variable, body = expr.function.variables[0], expr.function.expr
        matrix = self._print(expr.expr)
        if body.is_Function and body.args == (variable,):
            name = body.func.__name__
            command = f"\\{name}" if name in _LATEX_FUNCTIONS else rf"\operatorname{{{name}}}"
            return rf"{command}{self.style.elementwise}\left({matrix}\right)"
        # any other scalar function: write the entry in index notation, which is unambiguous
        entry = body.xreplace({variable: sp.Symbol(f"{matrix}_{{ab}}")})
        return rf"\left[{self._print(entry)}\right]_{{ab}}"

    def _print_OneMatrix(self, expr):
        # a row of ones is the transpose of the column of ones (D 1^T, not D 1); a matrix of ones is 1 1^T
        if expr.rows == 1 and expr.cols != 1:
            return r"\mathbf{1}^{\top}"
        if expr.cols != 1 and expr.rows != 1:
            return r"\mathbf{1}\mathbf{1}^{\top}"
        return r"\mathbf{1}"

    def _print_Identity(self, expr):
        return "I"

    def _print_DiagMatrix(self, expr):
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    _print_DiagonalOf = _print_DiagMatrix

    def _print_PermuteDims(self, expr):
        if list(expr.permutation.array_form) == [1, 0]:
            return self.parenthesize(expr.expr, 1000) + self.style.transpose
        return self._unreadable(expr)

    def _unreadable(self, expr):
        raise DerivationError(
            f"{type(expr).__name__} is SymPy's internal form and has no readable LaTeX: {str(expr)[:120]}; "
            "keep the derivative unevaluated (Derivative(...)) or give the step a hand-written latex=..."
        )

    _print_ArrayDiagonal = _print_ArrayContraction = _print_ArrayTensorProduct = _print_ArrayAdd = _unreadable
    _print_Lambda = _unreadable
    _print_Dummy = _unreadable


def to_latex(expr, style: Style = DEFAULT_STYLE) -> str:
    r"""LaTeX of one expression in the course's notation.

    >>> z = sp.IndexedBase("z")
    >>> i, j = sp.symbols("i j", integer=True)
    >>> to_latex(sp.KroneckerDelta(i, j) - z[j])
    '\\delta_{ij} - z_{j}'
    """
    try:
        return _printed(expr, style)
    except TypeError:  # an unhashable argument (a plain Matrix): print without the memo
        return CoursePrinter(style).doprint(expr)


@lru_cache(maxsize=8192)
def _printed(expr, style: Style) -> str:
    # notes, slides and Markdown print the same expressions: print each once per process
    return CoursePrinter(style).doprint(expr)


def step_latex(step_or_expr, style: Style = DEFAULT_STYLE) -> str:
    """The display form of a step: its hand-written LaTeX if it has one, else the printed expression."""
    latex = getattr(step_or_expr, "latex", None)
    return latex if latex else to_latex(getattr(step_or_expr, "expr", step_or_expr), style)
