"""Draw each derivation's figures once, to PDF (for LaTeX) and PNG (for Markdown and the web).

matplotlib is imported here only, and only when a derivation has figures. Figures are drawn with
the Agg canvas attached to each Figure object, so no pyplot state or global backend is touched.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from .._cache import write_atomically
from .._errors import SymformerError

FORMATS = ("pdf", "png")
PNG_DPI = 150


def figure_stem(slug: str, name: str) -> str:
    """The file name (without extension) of a figure: the derivation's slug and the figure's name.

    >>> figure_stem("rope-rotation", "Dot product vs. offset")
    'rope-rotation-dot-product-vs-offset'
    """
    words = re.findall(r"[a-z0-9]+", name.lower())
    return "-".join([slug, *words]) if words else slug


def export_figures(derivation, folder: Path, fresh=lambda stem: False) -> list:
    """Save every figure of ``derivation`` under ``folder``; return ``(stem, caption)`` pairs.

    ``fresh(stem)`` says whether the files already on disk are up to date (then they are kept).
    """
    made = []
    for figure in derivation.figures:
        stem = figure_stem(derivation.slug, figure.name)
        if not (fresh(stem) and all((folder / f"{stem}.{fmt}").is_file() for fmt in FORMATS)):
            _draw(derivation.slug, figure, folder / stem)
        made.append((stem, figure.caption))
    return made


def _draw(slug: str, figure, stem: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    try:
        drawing = figure.make()
    except Exception as exc:  # the figure's own code failed: name it
        raise SymformerError(f"derivation {slug!r}, figure {figure.name!r}: make() raised {type(exc).__name__}: {exc}") from exc
    if not hasattr(drawing, "savefig"):
        raise SymformerError(f"derivation {slug!r}, figure {figure.name!r}: make() must return a matplotlib Figure, "
                             f"not {type(drawing).__name__}")
    if drawing.canvas is None or type(drawing.canvas).__name__ == "FigureCanvasBase":
        FigureCanvasAgg(drawing)
    try:
        for fmt in FORMATS:
            buffer = io.BytesIO()
            options = {"dpi": PNG_DPI} if fmt == "png" else {"metadata": {"CreationDate": None}}
            drawing.savefig(buffer, format=fmt, bbox_inches="tight", **options)
            write_atomically(stem.with_suffix(f".{fmt}"), buffer.getvalue())
    finally:
        _close(drawing)


def _close(drawing) -> None:
    # A pyplot-made figure is registered with pyplot's manager; close it there, without importing pyplot.
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(drawing)
    drawing.clear()
