"""LaTeX text to a parse tree: the lark grammar ``latex.lark``, a post-lexer, and readable errors.

The lexer yields every command as ``CMD``; the post-lexer sorts commands into the kinds the grammar
knows (a Greek letter, a function, a font, ...), turns ``\\left(`` and friends into plain brackets,
and pairs plain ``|`` and ``\\|`` bars into openers and closers (a bar after an operand closes the
innermost open bar, any other bar opens one). An unknown command is refused here, by name.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from symformer.errors import LatexError

GREEK = set("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi
varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma
Upsilon Phi Psi Omega ell""".split())
SYMBOLS = {"top", "intercal", "infty", "searrow", "ast", "star", "dagger", "prime", "bot"}
DOTS = {"dots", "cdots", "ldots", "vdots", "ddots"}
FUNCTIONS = {"sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth", "arcsin", "arccos",
             "arctan", "exp", "log", "ln", "det", "max", "min", "Pr"}
FONTS = {"mathbf", "mathrm", "mathit", "mathsf", "mathcal", "mathbb", "boldsymbol", "bm", "hat", "bar", "tilde",
         "vec", "dot", "overline", "widehat", "widetilde", "check", "underbrace", "overbrace", "boxed"}
RELATIONS = {"neq": "\\neq", "ne": "\\neq", "le": "\\le", "leq": "\\le", "ge": "\\ge", "geq": "\\ge",
             "approx": "\\approx", "equiv": "\\equiv"}
KINDS = {"frac": "FRAC", "dfrac": "FRAC", "tfrac": "FRAC", "binom": "BINOM", "sqrt": "SQRT", "sum": "BIGOP", "prod": "BIGOP",
         "cdot": "MULOP", "times": "MULOP", "div": "MULOP", "odot": "ODOT", "circ": "ODOT", "partial": "PARTIAL",
         "langle": "LANGLE", "rangle": "RANGLE", "lvert": "LVERT", "rvert": "RVERT", "lVert": "LNORM",
         "rVert": "RNORM", "{": "LCURLY", "}": "RCURLY"}
PUNCTUATION = {"(": "LPAREN", ")": "RPAREN", "[": "LBRACK", "]": "RBRACK", "+": "SIGN", "-": "SIGN",
               "*": "MULOP", "/": "MULOP", "=": "REL", "<": "REL", ">": "REL", "<=": "REL", ">=": "REL",
               "!=": "REL"}
#: What a refused command should be written as instead.
ADVICE = {"pm": "split the formula into its two cases", "mp": "split the formula into its two cases",
          "mid": "declare the conditional probability as a name with % symformer: NAME := ...",
          "nabla": "write the gradient entry by entry, \\frac{\\partial f}{\\partial x_i}",
          "int": "integrals are not read; write the result of the integral",
          "lim": "limits are not read; write the limiting value",
          "to": "write a relation with =", "in": "declare the set in % symformer: (i index n)",
          "mathbb": None}

_OPERAND_END = {"NUMBER", "LETTER", "GREEK", "SYMBOL", "RPAREN", "RBRACK", "RBRACE", "RCURLY", "RANGLE", "RVERT",
                "RNORM", "END", "DOTS", "TEXT", "PRIME", "BANG", "PERCENT"}
_OPENERS = {"LPAREN": "RPAREN", "LBRACK": "RBRACK", "LBRACE": "RBRACE", "LCURLY": "RCURLY", "LANGLE": "RANGLE",
            "LVERT": "RVERT", "LNORM": "RNORM", "BEGIN": "END"}


class _PostLex:
    """Sort commands into kinds and pair bars; see the module docstring."""

    always_accept = ("CMD", "PUNCT", "OPNAME", "DELIM")

    def process(self, stream):
        opened: list = []  # the types of the open delimiters, innermost last
        previous = None
        for token in stream:
            for kind in self._kinds(token, opened, previous):
                out = Token.new_borrow_pos(kind, _normal(kind, token.value), token)
                if kind in _OPENERS:
                    opened.append(kind)
                elif kind in _OPENERS.values() and opened and _OPENERS[opened[-1]] == kind:
                    opened.pop()
                previous = kind
                yield out

    def _kinds(self, token, opened, previous):
        kind, value = token.type, token.value
        if kind == "PUNCT":
            if value == "|":
                return [self._bar("LVERT", "RVERT", opened, previous)]
            return [PUNCTUATION[value]]
        if kind == "OPNAME":
            return ["FUNC"]
        if kind == "DELIM":
            delimiter = value.split("\\", 2)[-1] if value.count("\\") > 1 else value[-1]
            side = "left" if any(value.startswith(f"\\{w}") for w in ("left", "bigl", "Bigl")) else \
                "right" if any(value.startswith(f"\\{w}") for w in ("right", "bigr", "Bigr")) else None
            return [self._delimiter(token, delimiter.strip(), side, opened, previous)]
        if kind == "CMD":
            name = value[1:]
            if name in GREEK:
                return ["GREEK"]
            if name in SYMBOLS:
                return ["SYMBOL"]
            if name in DOTS:
                return ["DOTS"]
            if name in FUNCTIONS:
                return ["FUNC"]
            if name in FONTS:
                return ["FONT"]
            if name in RELATIONS:
                return ["REL"]
            if name == "|":
                return [self._bar("LNORM", "RNORM", opened, previous)]
            if name in KINDS:
                return [KINDS[name]]
            advice = ADVICE.get(name)
            raise LatexError(f"line {token.line}, column {token.column}: \\{name} is not part of the notation symformer "
                             f"reads" + (f"; {advice}" if advice else ""), token.line, token.column)
        return [kind]

    @staticmethod
    def _bar(opener, closer, opened, previous):
        if opened and opened[-1] == opener and previous in _OPERAND_END:
            return closer
        return opener

    def _delimiter(self, token, delimiter, side, opened, previous):
        plain = {"(": "LPAREN", ")": "RPAREN", "[": "LBRACK", "]": "RBRACK", "{": "LCURLY", "}": "RCURLY",
                 "langle": "LANGLE", "rangle": "RANGLE", "lvert": "LVERT", "rvert": "RVERT", "lVert": "LNORM",
                 "rVert": "RNORM"}
        if delimiter in ("|", "\\|"):
            opener, closer = ("LVERT", "RVERT") if delimiter == "|" else ("LNORM", "RNORM")
            if side == "left":
                return opener
            if side == "right":
                return closer
            return self._bar(opener, closer, opened, previous)
        if delimiter.lstrip("\\") in plain:
            return plain[delimiter.lstrip("\\")]
        raise LatexError(f"line {token.line}, column {token.column}: the delimiter {token.value} is not read; "
                         "use matching \\left( ... \\right) brackets", token.line, token.column)


def _normal(kind: str, value: str) -> str:
    """One spelling per meaning, so that \\left( and ( compare equal in names and phrases."""
    if kind in ("LPAREN", "RPAREN", "LBRACK", "RBRACK"):
        return value[-1]
    if kind in ("LCURLY", "RCURLY", "LANGLE", "RANGLE", "LVERT", "RVERT", "LNORM", "RNORM"):
        return kind
    if kind == "FUNC" and value.startswith("\\operatorname"):
        return "\\operatorname{" + value[value.index("{") + 1:value.rindex("}")].strip() + "}"
    if kind == "TEXT":
        head, body = value.split("{", 1)
        return head.strip() + "{" + " ".join(body[:-1].split()) + "}"
    if kind in ("BEGIN", "END"):
        return "".join(value.split())
    if kind == "REL" and value in ("<=", ">=", "!="):
        return {"<=": "\\le", ">=": "\\ge", "!=": "\\neq"}[value]
    if kind == "REL" and value[1:] in RELATIONS:
        return RELATIONS[value[1:]]
    return value


@lru_cache(maxsize=None)
def _parser(start: str) -> Lark:
    grammar = resources.files("symformer.notation.reader").joinpath("latex.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="basic", postlex=_PostLex(), start=start, propagate_positions=True,
                maybe_placeholders=False)


#: Grammar terminals in the words of an error message.
_WORDS = {"RPAREN": "')'", "RBRACK": "']'", "RBRACE": "'}'", "RCURLY": "'\\}'", "RANGLE": "'\\rangle'",
          "RVERT": "a closing '|'", "RNORM": "a closing '\\|'", "END": "\\end{...}", "LBRACE": "'{'",
          "NUMBER": "a number", "LETTER": "a letter", "GREEK": "a Greek letter", "SIGN": "'+' or '-'",
          "REL": "'='", "COMMA": "','", "AMP": "'&'", "ROWSEP": "'\\\\'", "SUB": "'_'", "SUP": "'^'",
          "FUNC": "a function", "FRAC": "\\frac", "LPAREN": "'('", "ODOT": "'\\odot'", "MULOP": "an operator",
          "BIGOP": "\\sum", "$END": "the end of the formula"}


def _describe_expected(expected) -> str:
    names = sorted({_WORDS.get(e, None) for e in expected} - {None})
    operands = {"a number", "a letter", "a Greek letter"}
    if operands <= set(names):
        names = [n for n in names if n not in operands] + ["an operand"]
    if not names:
        return "something else"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def parse(text: str, start: str = "start") -> Tree:
    r"""The parse tree of ``text``; a :class:`LatexError` naming line, column and what was expected.

    >>> str(parse(r"\frac{a}{b}").children[0].data)
    'chain'
    >>> parse(r"\frac{a}{b")
    Traceback (most recent call last):
    ...
    symformer.errors.LatexError: line 1, column 11: the formula ends early; expected '}' to close the '{' of line 1, column 9
    """
    try:
        return _parser(start).parse(text)
    except UnexpectedEOF as exc:
        raise _ends_early(text, start, exc.expected) from None
    except UnexpectedToken as exc:
        token = exc.token
        if token.type == "$END":
            raise _ends_early(text, start, exc.expected) from None
        raise LatexError(f"line {token.line}, column {token.column}: found {token.value!r} but expected "
                         f"{_describe_expected(exc.expected)}", token.line, token.column) from None
    except UnexpectedCharacters as exc:
        found = text[exc.pos_in_stream] if exc.pos_in_stream is not None and exc.pos_in_stream < len(text) else "?"
        raise LatexError(f"line {exc.line}, column {exc.column}: the character {found!r} is not part of a formula",
                         exc.line, exc.column) from None
    except UnexpectedInput as exc:  # any other lark complaint still names the place
        raise LatexError(f"line {exc.line}, column {exc.column}: {exc}", exc.line, exc.column) from None


def _ends_early(text: str, start: str, expected) -> LatexError:
    """The error for a formula that stops before it is complete: name the delimiter left open, if any."""
    line, column = _end_position(text)
    opened = []
    for token in _parser(start).lex(text):
        line, column = token.end_line, token.end_column  # just after the last thing written
        if token.type in _OPENERS:
            opened.append(token)
        elif opened and _OPENERS[opened[-1].type] == token.type:
            opened.pop()
    if opened:
        first = opened[-1]
        closer = _WORDS.get(_OPENERS[first.type], _OPENERS[first.type])
        return LatexError(f"line {line}, column {column}: the formula ends early; expected {closer} to close "
                          f"the {first.value!r} of line {first.line}, column {first.column}", line, column)
    return LatexError(f"line {line}, column {column}: the formula ends early; expected "
                      f"{_describe_expected(expected)}", line, column)


def _end_position(text: str) -> tuple:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1
