"""A Jupyter notebook (nbformat 4) per derivation: the derivation as Markdown, then code that re-verifies it.

The notebook is built as plain JSON, so exporting needs no nbformat; tests validate it with nbformat.
"""

from __future__ import annotations

import json
from pathlib import Path

from symformer.engine.catalog import builtin_folder
from symformer.notation.printer import DEFAULT_STYLE, Style
from symformer.export.course import Entry
from symformer.export.markdown import to_markdown
from symformer.export.registry import Exporter, register


def verification_code(derivation) -> str:
    """Python that loads ``derivation`` again (built-in course or the user's file) and verifies it."""
    source = Path(derivation.source).resolve() if derivation.source else None
    builtin = source is not None and builtin_folder().resolve() in source.parents
    if source is None or builtin:
        load = f'derivation = catalog()[{derivation.slug!r}]'
        imports = "from symformer import catalog, verify"
    else:
        load = f'derivation = Catalog(discover([{str(source)!r}]).derivations)[{derivation.slug!r}]'
        imports = "from symformer import Catalog, discover, verify"
    return "\n".join([imports, "", load, "report = verify(derivation)",
                      'print(report.describe_failures() or "every step and claim holds")', "report.ok"])


def to_notebook(entry: Entry, style: Style = DEFAULT_STYLE) -> str:
    """The notebook as JSON text (nbformat 4.5).

    >>> import json, sympy as sp
    >>> from symformer import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> chain = Derivation("square", "A square", "Demo", lhs=x * x, steps=[Step(x**2, "powers")])
    >>> [cell["cell_type"] for cell in json.loads(to_notebook(Entry(chain)))["cells"]]
    ['markdown', 'code', 'code']
    """
    d = entry.derivation
    cells = [
        _cell("markdown", to_markdown(entry, style)),
        _cell("code", verification_code(d)),
        _cell("code", "derivation  # shown with its _repr_latex_"),
    ]
    notebook = {
        "cells": [{**cell, "id": f"{d.slug[:50]}-{number}"} for number, cell in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}, "symformer": {"slug": d.slug}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _cell(kind: str, source: str) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


register(Exporter("ipynb", ".ipynb", "a notebook that re-runs the verification", to_notebook, shows_levels=False))
