r"""A LaTeX or Markdown file as chains of equations, with the declarations that give its symbols meaning.

In ``.tex`` every ``align``/``align*``/``aligned``/``equation``/``equation*`` environment and every
``\[ ... \]`` display is a chain; in ``.md`` every ``$$ ... $$`` display. A chain is its first part
(the left side of the first row) and then one step per ``=``. A row that starts with a new
expression (no ``=`` before it) starts a new chain. A step's justification is its row's
``&& \text{...}``, a ``% why: ...`` comment on its line, or an ``\intertext{...}`` before it.

Declarations say what the symbols are, one statement per ``;`` or line, in ``% symformer:`` comments
(``.tex``) or under a ``symformer:`` key of the YAML front matter (``.md``)::

    % symformer: n size 1..6 numeric 32; i, j, k index n
    % symformer: z vector n real; p_i := e^{z_i} / \sum_k e^{z_k}

``NAMES size A..B [numeric N]`` sizes, proved at every size from A to B and checked in float64 at N;
``NAMES index N`` indices running 1..N; ``NAMES vector N [DOMAIN]`` and ``NAMES array N x M [DOMAIN]``
for index notation (``z_i``, ``Q_{ij}``); ``NAMES matrix N x M [DOMAIN]`` for matrix notation
(``Q K^\top``); ``NAMES scalar [DOMAIN]``; ``NAME := formula`` a definition, which steps may use by its
name (``p_i``, ``D``, ``f(x)``). DOMAIN is ``real`` (the default), ``positive``, ``unit interval``,
``simplex`` or ``one-hot``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from lark import Token, Tree

from symformer.errors import LatexError, LatexShapeError
from symformer.notation.reader.build import Builder, Notation, _chain_expr, _primary_key, _scripts, name_key
from symformer.notation.reader.context import settle
from symformer.notation.reader.parse import parse

CHAIN_ENVIRONMENTS = ("align", "align*", "aligned", "equation", "equation*", "gather", "gather*", "multline",
                      "multline*", "eqnarray", "eqnarray*", "flalign", "flalign*", "alignat", "alignat*")
DOMAINS = ("real", "positive", "unit interval", "simplex", "one-hot")
KINDS = ("size", "index", "vector", "array", "matrix", "scalar")


@dataclass
class Part:
    """One side of an ``=`` in a chain: where it is, its LaTeX, its justification and its value."""

    line: int
    column: int
    latex: str
    why: str = ""
    value: object = None
    tree: object = None
    start: int = 0
    problem: str = ""  # why the part, readable, is not a well-formed formula (shapes that do not fit)


@dataclass
class Chain:
    line: int
    parts: list = field(default_factory=list)  # the first is the left side, each later one a step
    unchecked: list = field(default_factory=list)  # (line, column, LaTeX, relation) of steps by other relations


@dataclass
class Declarations:
    """What a file declares: the notation to read it in, and what the checks need to know."""

    notation: Notation = field(default_factory=Notation)
    sizes: dict = field(default_factory=dict)  # Symbol -> (range of proof sizes, numeric size)
    indices: dict = field(default_factory=dict)  # Symbol -> upper limit
    domains: dict = field(default_factory=dict)  # IndexedBase, MatrixSymbol or Symbol -> domain name
    definitions: dict = field(default_factory=dict)  # IndexedBase -> Lambda, or Symbol/MatrixSymbol -> expr


@dataclass
class Document:
    path: str
    declarations: Declarations
    chains: list


# Reading a file -------------------------------------------------------------------------------------------


def read_document(text: str, path: str = "<text>", kind: str | None = None, functions=None) -> Document:
    r"""The declarations and chains of a ``.tex`` or ``.md`` text; :class:`LatexError` names line and column.

    >>> doc = read_document("% symformer: x scalar\n\\begin{align*} (x+1)^2 &= x^2 + 2x + 1 && \\text{expand} \\end{align*}")
    >>> [(p.line, p.latex, p.why) for p in doc.chains[0].parts]
    [(2, '(x+1)^2', ''), (2, 'x^2 + 2x + 1', 'expand')]

    ``functions`` (name -> callable) are known before the declarations, as ``softmax`` is to ``symformer check``.
    """
    kind = kind or ("md" if path.endswith((".md", ".markdown", ".qmd")) else "tex")
    if kind == "md":
        statements, text, offset = _front_matter(text)  # the front matter blanked, lines kept
        displays = _markdown_displays(text, offset)
        comments = _comments(text, offset)
    else:
        comments = _comments(text, 0)
        statements = [(line, column, rest) for line, column, key, rest in comments if key == "symformer"]
        blanked = _blank_comments(text)
        displays = _tex_displays(blanked)
        if "$$" in blanked:  # plain TeX displays in a LaTeX file
            taken = [(start, start + len(body)) for start, body in displays]
            displays += [d for d in _markdown_displays(blanked, 0) if not any(a <= d[0] < b for a, b in taken)]
            displays.sort()
    declarations = declare_all(statements, functions)
    why_by_line = {line: rest for line, _, key, rest in comments if key == "why"}
    chains = []
    for start, body in displays:
        chains += _chains_of(text, start, body, why_by_line, declarations.notation)
    return Document(path, declarations, chains)


def _position_of(text: str, offset: int) -> tuple:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _comments(text: str, offset_lines: int) -> list:
    """(line, column, key, rest) of every % comment; key is 'symformer', 'why' or ''."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1 + offset_lines):
        position = _comment_start(line)
        if position is None:
            continue
        body = line[position + 1:].strip()
        for key in ("symformer:", "why:"):
            if body.lower().startswith(key):
                out.append((number, position + 1, key[:-1], body[len(key):].strip()))
                break
        else:
            out.append((number, position + 1, "", body))
    return out


def _comment_start(line: str):
    escaped = False
    for position, ch in enumerate(line):
        if ch == "\\":
            escaped = not escaped
            continue
        if ch == "%" and not escaped:
            return position
        escaped = False
    return None


def _blank_comments(text: str) -> str:
    """The text with every comment replaced by spaces, so positions stay where they were."""
    lines = []
    for line in text.split("\n"):
        position = _comment_start(line)
        lines.append(line if position is None else line[:position] + " " * (len(line) - position))
    return "\n".join(lines)


def _tex_displays(text: str) -> list:
    """(offset of the body, body) of each chain environment and \\[ \\] display, outermost first."""
    out, position = [], 0
    while True:
        begin = _next_begin(text, position)
        if begin is None:
            return out
        start, name, body_start = begin
        if name == "[":
            end = text.find("\\]", body_start)
            if end < 0:
                line, column = _position_of(text, start)
                raise LatexError(f"line {line}, column {column}: \\[ is never closed by \\]", line, column)
            out.append(_unwrap_inner(text, body_start, text[body_start:end]))
            position = end + 2
            continue
        end = _matching_end(text, name, body_start)
        if end is None:
            line, column = _position_of(text, start)
            raise LatexError(f"line {line}, column {column}: \\begin{{{name}}} is never closed by \\end{{{name}}}",
                             line, column)
        out.append(_unwrap_inner(text, body_start, text[body_start:end]))
        position = end


def _unwrap_inner(text: str, body_start: int, body: str) -> tuple:
    """An equation or display whose whole body is an aligned/split/gathered: the chain is that inner body."""
    inner = _next_begin(body, 0)
    if inner is not None and inner[1] in ("aligned", "split", "gathered", "alignedat") and not body[:inner[0]].strip():
        inner_end = _matching_end(body, inner[1], inner[2])
        if inner_end is None:
            line, column = _position_of(text, body_start + inner[0])
            raise LatexError(f"line {line}, column {column}: \\begin{{{inner[1]}}} is never closed", line, column)
        return body_start + inner[2], body[inner[2]:inner_end]
    return body_start, body


def _next_begin(text: str, position: int):
    while True:
        a = text.find("\\begin", position)
        b = text.find("\\[", position)
        if b >= 0 and (a < 0 or b < a):
            return b, "[", b + 2
        if a < 0:
            return None
        brace = text.find("{", a)
        close = text.find("}", brace)
        if brace < 0 or close < 0 or text[a + 6:brace].strip():
            position = a + 6
            continue
        name = text[brace + 1:close].strip()
        if name in CHAIN_ENVIRONMENTS:
            return a, name, close + 1
        position = close + 1


def _matching_end(text: str, name: str, position: int):
    depth = 1
    while True:
        begin = text.find("\\begin{" + name + "}", position)
        end = text.find("\\end{" + name + "}", position)
        if end < 0:
            return None
        if 0 <= begin < end:
            depth += 1
            position = begin + 1
            continue
        depth -= 1
        if depth == 0:
            return end
        position = end + 1


def _front_matter(text: str):
    """(declaration statements, the text after the front matter, the lines it took) of a Markdown file."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return [], text, 0
    try:
        close = next(n for n in range(1, len(lines)) if lines[n].strip() in ("---", "..."))
    except StopIteration:
        raise LatexError("line 1, column 1: the front matter opened by --- is never closed", 1, 1) from None
    statements, inside = [], False
    for number in range(1, close):
        line = lines[number]
        if not inside:
            if line.startswith("symformer:"):
                rest = line[len("symformer:"):].strip()
                inside = True
                if rest and rest not in ("|", ">", "|-", ">-"):
                    statements.append((number + 1, line.index(":") + 2, _unquote(rest)))
                    inside = False
            continue
        if line.strip() and not line[0].isspace():
            inside = False
            continue
        item = line.strip()
        if item.startswith("- "):
            item = item[2:].strip()
        if item:
            statements.append((number + 1, len(line) - len(line.lstrip()) + 1, _unquote(item)))
    blanked = "\n".join([""] * (close + 1) + lines[close + 1:])
    return statements, blanked, 0


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].replace("\\\\", "\\") if text[0] == '"' else text[1:-1]
    return text


def _markdown_displays(text: str, offset: int) -> list:
    out, position = [], 0
    blank = _blank_code(text)
    while True:
        start = blank.find("$$", position)
        if start < 0:
            return out
        end = blank.find("$$", start + 2)
        if end < 0:
            line, column = _position_of(text, start)
            raise LatexError(f"line {line}, column {column}: $$ is never closed", line, column)
        body = _blank_comments(text[start + 2:end])
        inner = _next_begin(body, 0)
        if inner is not None and inner[1] in ("aligned", "align", "align*", "split", "equation", "equation*") \
                and not body[:inner[0]].strip():
            inner_end = _matching_end(body, inner[1], inner[2])
            if inner_end is None:
                line, column = _position_of(text, start + 2 + inner[0])
                raise LatexError(f"line {line}, column {column}: \\begin{{{inner[1]}}} is never closed", line, column)
            out.append((start + 2 + inner[2], body[inner[2]:inner_end]))
        else:
            out.append((start + 2, body))
        position = end + 2


def _blank_code(text: str) -> str:
    """Markdown with fenced code blocks blanked out, so a $$ in code is not a display."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append(" " * len(line))
            continue
        lines.append(" " * len(line) if fenced else line)
    return "\n".join(lines)


# Chains ----------------------------------------------------------------------------------------------------


def _chains_of(text: str, offset: int, body: str, why_by_line: dict, notation: Notation) -> list:
    line, column = _position_of(text, offset)
    padded = "\n" * (line - 1) + " " * (column - 1) + body
    padded, notes = _take_annotations(padded)
    tree = parse(padded, start="rows")
    chains: list = []
    current = None
    for row in tree.children:
        if isinstance(row, Token):
            continue
        relation_before = None
        for cell in row.children:
            if isinstance(cell, Token):
                continue
            for child in cell.children[0].children:
                if isinstance(child, Token):
                    relation_before = child
                    continue
                relation, relation_before = relation_before, None
                where = relation if relation is not None else _first_token(child)
                part = Part(where.line, where.column, _source(padded, child), tree=child)
                part.start = where.start_pos
                if relation is not None and relation.value != "=":
                    # an inequality is not checked: it is noted, and the chain goes on from its right side
                    if current is not None:
                        current.unchecked.append((where.line, where.column, part.latex, relation.value))
                    relation = None
                if relation is None:
                    current = Chain(part.line)
                    chains.append(current)
                elif current is None:
                    raise LatexError(f"line {where.line}, column {where.column}: the chain starts with '=' but has "
                                     "no left side", where.line, where.column)
                current.parts.append(part)
    steps = [p for chain in chains for p in chain.parts[1:]]
    for position, kind, words in notes:
        if kind == "row":  # && \text{...}: the last step before it
            before = [p for p in steps if p.start < position]
            if before and not before[-1].why:
                before[-1].why = words
        else:  # \intertext{...}: the next step after it
            after = [p for p in steps if p.start > position]
            if after and not after[0].why:
                after[0].why = words
    for line_number, words in why_by_line.items():  # % why: ... on the step's line
        on_line = [p for p in steps if p.line == line_number] or [p for p in steps if p.line < line_number][-1:]
        if on_line and not on_line[-1].why:
            on_line[-1].why = words
    builder = Builder(notation)
    for chain in chains:
        values = []
        for part in chain.parts:
            try:
                values.append(builder.expr(part.tree))
            except LatexShapeError as exc:  # readable but wrong: the check reports it on its line
                part.problem = str(exc).split(": ", 1)[-1]
                values.append(None)
        good = [v for v in values if v is not None]
        settled = iter(settle(good) if good else [])
        for part, value in zip(chain.parts, values):
            part.value = next(settled) if value is not None else None
    return chains


def _take_annotations(text: str):
    """Blank out ``&& ...`` (to the end of its row) and ``\\intertext{...}``; return them with their offsets.

    Annotations are prose; they are not parsed as mathematics, so they may say anything.
    """
    text = _blank_labels(text)
    out = list(text)
    notes = []
    depth, position = 0, 0
    while position < len(text):
        ch = text[position]
        if ch == "\\" and text.startswith("\\intertext", position):
            brace = text.find("{", position)
            close = _closing_brace(text, brace)
            notes.append((position, "intertext", _prose(text[brace + 1:close])))
            out[position:close + 1] = " " * (close + 1 - position)
            position = close + 1
            continue
        if ch == "\\" and depth == 0 and _is_prose_command(text, position):
            brace = text.find("{", position)
            close = _closing_brace(text, brace)
            end = _row_end(text, close + 1)
            if not text[close + 1:end].strip(" \t\n.,;"):  # prose closing a row: an annotation
                notes.append((position, "row", _prose(text[position:close + 1])))
                out[position:close + 1] = " " * (close + 1 - position)
                position = close + 1
                continue
        if ch == "\\" and position + 1 < len(text):
            if text.startswith("\\begin", position):
                depth += 1
            elif text.startswith("\\end", position):
                depth -= 1
            position += 2
            continue
        if ch in ".," and depth == 0 and not text[position + 1:position + 2].isdigit() and \
                not text[position + 1:_row_end(text, position + 1)].replace("&&", "").strip():
            out[position] = " "  # the full stop or comma that ends a displayed sentence
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "&" and depth == 0 and text.startswith("&&", position):
            end = _row_end(text, position)
            notes.append((position, "row", _prose(text[position + 2:end])))
            out[position:end] = [c if c == "\n" else " " for c in text[position:end]]
            position = end
            continue
        position += 1
    return "".join(out), notes


def _blank_labels(text: str) -> str:
    """\\label{...}, \\tag{...}, \\nonumber and \\notag blanked: they number rows, they say nothing."""
    out = list(text)
    for command in ("\\label", "\\tag", "\\nonumber", "\\notag"):
        position = text.find(command)
        while position >= 0:
            end = position + len(command)
            if command in ("\\label", "\\tag") and text[end:].lstrip().startswith("{"):
                end = _closing_brace(text, text.find("{", end)) + 1
            out[position:end] = " " * (end - position)
            position = text.find(command, end)
    return "".join(out)


def _is_prose_command(text: str, position: int) -> bool:
    for command in ("\\text{", "\\textrm{", "\\textit{", "\\mbox{", "\\text {"):
        if text.startswith(command, position):
            return True
    return False


def _closing_brace(text: str, brace: int) -> int:
    depth = 0
    for position in range(brace, len(text)):
        depth += text[position] == "{"
        depth -= text[position] == "}"
        if depth == 0:
            return position
    line, column = _position_of(text, brace)
    raise LatexError(f"line {line}, column {column}: this brace is never closed", line, column)


def _row_end(text: str, position: int) -> int:
    depth = 0
    while position < len(text):
        if text.startswith("\\\\", position) and depth == 0:
            return position
        if text.startswith("\\begin", position):
            depth += 1
        elif text.startswith("\\end", position):
            depth -= 1
        position += 1
    return len(text)


def _prose(latex: str) -> str:
    """An annotation for people: \\text{...} wrappers and spacing commands dropped, mathematics kept."""
    words = latex
    for command in ("\\text", "\\textrm", "\\textit", "\\mbox", "\\mathrm"):
        words = words.replace(command + "{", "{")
    for spacing in ("\\quad", "\\qquad", "\\,", "\\;", "\\ "):
        words = words.replace(spacing, " ")
    words = words.replace("{", "").replace("}", "").replace("$", "")
    return " ".join(words.split()).strip(" ,;:")


def _first_token(tree):
    for token in tree.scan_values(lambda v: isinstance(v, Token)):
        return token
    raise LatexError("an empty part in a chain")


def _source(padded: str, tree) -> str:
    meta = tree.meta
    return " ".join(padded[meta.start_pos:meta.end_pos].split())


# Declarations ------------------------------------------------------------------------------------------------


def declare_all(statements, functions=None) -> Declarations:
    """Apply each (line, column, text) of declarations in order; the text may hold several, split by ';'."""
    declarations = Declarations()
    declarations.notation.functions.update(functions or {})
    for line, column, text in statements:
        for statement in _split(text):
            if statement.strip():
                try:
                    declare_one(declarations, statement.strip())
                except LatexError as exc:
                    raise LatexError(f"line {line}: in the declaration {statement.strip()!r}: "
                                     f"{_without_position(str(exc))}", line, column) from None
    return declarations


def _split(text: str) -> list:
    """Split at ';' outside braces."""
    out, depth, start = [], 0, 0
    for position, ch in enumerate(text):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == ";" and depth == 0:
            out.append(text[start:position])
            start = position + 1
    out.append(text[start:])
    return out


def _without_position(message: str) -> str:
    if message.startswith("line ") and ": " in message:
        return message.split(": ", 1)[1]
    return message


def declare_one(declarations: Declarations, statement: str) -> None:
    r"""One declaration statement (see the module docstring).

    >>> d = Declarations()
    >>> declare_one(d, "n size 1..4 numeric 16"); declare_one(d, "i, j index n"); declare_one(d, "z vector n")
    >>> sorted(map(str, d.indices)), d.sizes[sp.Symbol("n", integer=True, positive=True)]
    (['i', 'j'], ((1, 2, 3, 4), 16))
    """
    if ":=" in statement:
        return _define(declarations, *statement.split(":=", 1))
    words = statement.replace(",", " , ").split()
    kind_at = next((n for n, w in enumerate(words) if w in KINDS), None)
    if kind_at is None or kind_at == 0:
        raise LatexError(f"expected NAMES followed by one of {', '.join(KINDS)} (or NAME := formula)")
    names = [w for w in " ".join(words[:kind_at]).split(" , ")]
    names = [n.strip() for n in " ".join(words[:kind_at]).split(",") if n.strip()]
    kind, rest = words[kind_at], [w for w in words[kind_at + 1:] if w != ","]
    for name in names:
        _declare_kind(declarations, name, kind, rest)


def _python_name(latex: str) -> str:
    """A SymPy name the printer writes as ``latex`` (\\mu -> mu, d_{k} -> d_k)."""
    return latex.replace("\\", "").replace("{", "").replace("}", "").replace(" ", "")


def _size_value(declarations: Declarations, word: str):
    if word.isdigit():
        return sp.Integer(int(word))
    key = name_key(word)
    value = declarations.notation.symbols.get(key)
    if value is None or value not in declarations.sizes:
        raise LatexError(f"{word} is not a declared size (declare it first: {word} size 1..4)")
    return value


def _domain(rest: list) -> str:
    domain = " ".join(rest) or "real"
    if domain not in DOMAINS:
        raise LatexError(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
    return domain


def _declare_kind(declarations: Declarations, name: str, kind: str, rest: list) -> None:
    key = name_key(name)
    notation = declarations.notation
    if kind == "size":
        if not rest or ".." not in rest[0]:
            raise LatexError(f"a size needs its proof range: {name} size 1..6 [numeric 32]")
        low, high = rest[0].split("..", 1)
        if not (low.isdigit() and high.isdigit() and int(low) <= int(high)):
            raise LatexError(f"the range {rest[0]} is not A..B with whole numbers A <= B")
        numeric = 32
        if len(rest) >= 3 and rest[1] == "numeric" and rest[2].isdigit():
            numeric = int(rest[2])
        elif len(rest) > 1:
            raise LatexError(f"after the range, expected 'numeric N', found {' '.join(rest[1:])!r}")
        symbol = sp.Symbol(_python_name(name), integer=True, positive=True)
        notation.symbols[key] = symbol
        declarations.sizes[symbol] = (tuple(range(int(low), int(high) + 1)), numeric)
        return
    if kind == "index":
        if len(rest) != 1:
            raise LatexError(f"an index needs the size it runs to: {name} index n")
        symbol = sp.Symbol(_python_name(name), integer=True)
        notation.symbols[key] = symbol
        upper = _size_value(declarations, rest[0])
        notation.indices[symbol] = upper
        declarations.indices[symbol] = upper
        return
    if kind in ("vector", "array", "matrix"):
        shape_words = []
        while rest and (rest[0] == "x" or rest[0].isdigit() or _is_size(declarations, rest[0])):
            if rest[0] != "x":
                shape_words.append(rest[0])
            rest = rest[1:]
        shape = tuple(_size_value(declarations, w) for w in shape_words)
        wanted = {"vector": 1, "array": 2, "matrix": 2}[kind]
        if len(shape) != wanted and not (kind == "array" and len(shape) > 2):
            example = {"vector": f"{name} vector n", "array": f"{name} array n x d", "matrix": f"{name} matrix n x d"}
            raise LatexError(f"{kind} needs {wanted} size{'s' if wanted > 1 else ''}: {example[kind]}")
        domain = _domain(rest)
        if kind == "matrix":
            value = sp.MatrixSymbol(_python_name(name), *shape)
            notation.symbols[key] = value
        else:
            value = sp.IndexedBase(_python_name(name), shape=shape, real=True)
            notation.bases[key] = value
        declarations.domains[value] = domain
        return
    if kind == "scalar":
        domain = _domain(rest)
        assumptions = {"positive": True} if domain == "positive" else {"real": True}
        value = sp.Symbol(_python_name(name), **assumptions)
        notation.symbols[key] = value
        if domain not in ("real", "positive"):
            declarations.domains[value] = domain
        return


def _is_size(declarations: Declarations, word: str) -> bool:
    try:
        return declarations.notation.symbols.get(name_key(word)) in declarations.sizes
    except LatexError:
        return False


def _define(declarations: Declarations, name: str, formula: str) -> None:
    notation = declarations.notation
    name, formula = name.strip(), formula.strip()
    head = _chain_expr(parse(name))
    hterm = head.children[0].children[0] if head is not None and len(head.children) == 1 else None
    items = list(hterm.children) if hterm is not None and len(head.children[0].children) == 1 else []
    if len(items) == 2 and isinstance(items[1], Tree) and items[1].children[0].data == "paren":
        return _define_function(declarations, items, name, formula)
    if len(items) != 1 or not isinstance(items[0], Tree) or items[0].data != "factor":
        # a whole phrase (\mathbb{E}[q \cdot k] := ...): wherever it is written, it means the formula
        notation.add_phrase(name, Builder(notation).single(parse(formula).children[0]))
        return
    factor = items[0]
    base_key = _primary_key(factor.children[0])
    sub, sup = _scripts(factor)
    if sup is not None:
        base_key = name_key(name.split("_")[0]) if sub is not None else name_key(name)
    value = _fresh_bound(Builder(notation).single(parse(formula).children[0]), declarations)
    if sub is None:
        python = _python_name(name)
        if getattr(value, "is_Matrix", False):
            symbol = sp.MatrixSymbol(python, *value.shape)
        else:
            symbol = sp.Symbol(python, real=True)
        notation.symbols[name_key(name)] = symbol
        declarations.definitions[symbol] = value
        return
    indices = Builder(notation).indices(sub, None)
    if not all(isinstance(i, sp.Symbol) and i in declarations.indices for i in indices):
        raise LatexError(f"the subscripts of {name} must be declared indices (i index n)")
    shape = tuple(declarations.indices[i] for i in indices)
    base = sp.IndexedBase(_python_name(base_key), shape=shape, real=True)
    notation.bases[base_key if sup is None else name_key(name.split("_")[0])] = base
    declarations.definitions[base] = sp.Lambda(tuple(indices), value)


def _fresh_bound(value, declarations: Declarations):
    """The definition with its summation indices renamed, so that using it beside a free index of the same
    letter (d mu / d x_r with mu a sum over r) cannot capture that index."""
    sums = [node for node in sp.preorder_traversal(value) if isinstance(node, (sp.Sum, sp.Product))]
    if not sums:
        return value
    renaming = {}
    for node in sums:
        for index, *_ in node.limits:
            if index not in renaming:
                renaming[index] = sp.Symbol(f"{index}_{len(renaming) + 1}", integer=True)
    return value.replace(lambda e: isinstance(e, (sp.Sum, sp.Product)),
                         lambda e: e.func(e.function.xreplace(renaming), *[(renaming.get(v, v), lo, hi) for v, lo, hi in e.limits]))


def _define_function(declarations: Declarations, items, name: str, formula: str) -> None:
    notation = declarations.notation
    head, group = items
    key = _primary_key(head.children[0])
    arguments = [c for c in group.children[0].children[1].children if isinstance(c, Tree)]
    parameters = []
    local = Notation(dict(notation.symbols), dict(notation.bases), dict(notation.functions), dict(notation.phrases),
                     dict(notation.indices))
    for argument in arguments:
        text = " ".join(canonical_tokens(argument))
        symbol = sp.Symbol(_python_name(text), real=True)
        local.symbols[name_key(text)] = symbol
        parameters.append(symbol)
    body = Builder(local).single(parse(formula).children[0])
    function = sp.Lambda(tuple(parameters), body)
    notation.functions[key] = lambda *args: function(*args)


def canonical_tokens(tree) -> list:
    return [t.value for t in tree.scan_values(lambda v: isinstance(v, Token))]
