"""Draw each derivation's figures once, to PDF (for LaTeX), PNG (for Markdown) and SVG (for the site).

matplotlib is imported here only, and only when a derivation has figures. Figures are drawn with
the Agg canvas attached to each Figure object, so no pyplot state or global backend is touched.
"""

from __future__ import annotations

import io
import multiprocessing
import re
from pathlib import Path

from symformer.engine.cache import write_atomically
from symformer.errors import SymformerError

FORMATS = ("pdf", "png", "svg")
PNG_DPI = 150


def figure_stem(slug: str, name: str) -> str:
    """The file name (without extension) of a figure: the derivation's slug and the figure's name.

    >>> figure_stem("rope-rotation", "Dot product vs. offset")
    'rope-rotation-dot-product-vs-offset'
    """
    words = re.findall(r"[a-z0-9]+", name.lower())
    return "-".join([slug, *words]) if words else slug


def export_figures(derivations, folder: Path, fresh=lambda stem: False, jobs: int = 1) -> list:
    """Save the figures of each derivation under ``folder``; return, per derivation, ``(stem, caption)`` pairs.

    ``fresh(stem)`` says whether the files already on disk are up to date (then they are kept).
    Drawing is slow (seconds a figure), so with ``jobs > 1`` forked workers draw side by side.
    """
    global _WORK
    made, todo = [], []
    for derivation in derivations:
        pairs = []
        for figure in derivation.figures:
            stem = figure_stem(derivation.slug, figure.name)
            if not (fresh(stem) and all((folder / f"{stem}.{fmt}").is_file() for fmt in FORMATS)):
                todo.append((derivation.slug, figure, folder / stem))
            pairs.append((stem, figure.caption))
        made.append(pairs)
    if jobs > 1 and len(todo) > 1 and "fork" in multiprocessing.get_all_start_methods():
        _WORK = todo  # figures hold functions that may not pickle: forked workers inherit them
        try:
            with multiprocessing.get_context("fork").Pool(min(jobs, len(todo))) as pool:
                for error in pool.imap(_draw_safely, range(len(todo))):
                    if error:
                        raise SymformerError(error)
        finally:
            _WORK = []
    else:
        for slug, figure, stem in todo:
            _draw(slug, figure, stem)
    return made


_WORK: list = []


def _draw_safely(index: int) -> str | None:
    try:
        _draw(*_WORK[index])
    except SymformerError as exc:
        return str(exc)
    return None


_SAVE_OPTIONS = {"png": {"dpi": PNG_DPI}, "pdf": {"metadata": {"CreationDate": None}}, "svg": {"metadata": {"Date": None}}}


def _draw(slug: str, figure, stem: Path) -> None:
    from matplotlib import rc_context
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
            options = _SAVE_OPTIONS[fmt]
            with rc_context({"svg.hashsalt": stem.name}):  # SVG ids from the name, not a random salt
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
