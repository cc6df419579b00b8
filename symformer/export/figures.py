"""Draw each derivation's figures once, to PDF (for LaTeX), PNG (for Markdown) and SVG (for the site).

matplotlib is imported here only, and only when a figure must be drawn. Figures are drawn with
the Agg canvas attached to each Figure object, so no pyplot state or global backend is touched.

Drawn files are kept in the cache folder (``$SYMFORMER_CACHE_DIR/figures``) under a key made of
what the picture depends on: the function that draws it and its arguments, the source of its
file and of symformer, and the versions of matplotlib and NumPy. A build into a new folder copies
the cached files instead of drawing again.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import multiprocessing
import os
import re
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from symformer._files import write_atomically
from symformer.engine.cache import cache_dir, warn_unusable
from symformer.errors import OutputError, SymformerError

FORMATS = ("pdf", "png", "svg")
PNG_DPI = 150


def figure_stem(slug: str, name: str) -> str:
    """The file name (without extension) of a figure: the derivation's slug and the figure's name.

    >>> figure_stem("rope-rotation", "Dot product vs. offset")
    'rope-rotation-dot-product-vs-offset'
    """
    words = re.findall(r"[a-z0-9]+", name.lower())
    return "-".join([slug, *words]) if words else slug


#: The parts of symformer a drawing can depend on: the figures, the references and blocks they draw
#: from, and this module, which saves them.
_DRAWING_CODE = ("figures", "reference", "blocks", "tokenizer")


@lru_cache(maxsize=1)
def _package_digest() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for path in sorted(p for folder in _DRAWING_CODE for p in (package / folder).rglob("*.py")):
        digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def figure_key(figure) -> str:
    """What a figure's picture depends on, hashed: its drawing function and arguments, the source
    of that function's file and of the parts of symformer drawings use, and the matplotlib and
    NumPy versions.

    >>> from symformer import Figure
    >>> from symformer.figures import encoding_heatmap
    >>> figure_key(Figure("a", encoding_heatmap, "x")) == figure_key(Figure("a", encoding_heatmap, "another caption"))
    True
    """
    make = figure.make
    target = getattr(make, "func", make)  # a functools.partial names its function and arguments
    parts = [figure.name, getattr(target, "__module__", ""), getattr(target, "__qualname__", repr(target)),
             repr(getattr(make, "args", ())), repr(sorted(getattr(make, "keywords", {}).items())),
             _package_digest(), _version("matplotlib"), _version("numpy"), str(PNG_DPI), ",".join(FORMATS)]
    try:
        source = inspect.getsourcefile(target)
    except TypeError:
        source = None
    if source and Path(source).is_file():
        parts.append(_file_digest(source, Path(source).stat().st_mtime_ns))
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _cached(key: str) -> Path:
    return cache_dir() / "figures" / key


def export_figures(derivations, folder: Path, fresh=lambda stem, key: False, jobs: int = 1) -> tuple:
    """Save the figures of each derivation under ``folder``.

    Returns, per derivation, ``(stem, caption)`` pairs, and each stem's key. ``fresh(stem, key)``
    says whether the files already in ``folder`` were made under that key (then they are kept);
    otherwise the cached files of that key are copied, and only figures never drawn are drawn.
    Drawing is slow (seconds a figure), so with ``jobs > 1`` forked workers draw side by side.
    """
    global _WORK
    made, todo, copies, keys = [], [], [], {}
    cache_usable = _cache_usable()
    for derivation in derivations:
        pairs = []
        for figure in derivation.figures:
            stem = figure_stem(derivation.slug, figure.name)
            key = keys[stem] = figure_key(figure)
            current = fresh(stem, key) and all((folder / f"{stem}.{fmt}").is_file() for fmt in FORMATS)
            if not current and not cache_usable:
                todo.append((derivation.slug, figure, folder / stem))  # no cache: drawn where it is used
            elif not current:
                cached = _cached(key)
                if not all(cached.with_suffix(f".{fmt}").is_file() for fmt in FORMATS) and \
                        all(cached != t[2] for t in todo):
                    todo.append((derivation.slug, figure, cached))
                copies.append((cached, folder / stem))
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
    for cached, stem in copies:
        for fmt in FORMATS:
            target = stem.with_suffix(f".{fmt}")
            try:
                write_atomically(target, cached.with_suffix(f".{fmt}").read_bytes())
            except OSError as exc:
                raise OutputError.from_os_error(target, exc) from None
    return made, keys


def _cache_usable() -> bool:
    """Whether figures can be drawn into the cache; when not, the cache says why (once) and figures skip it."""
    try:
        folder = cache_dir() / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe.{os.getpid()}.{threading.get_ident()}.tmp"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT, 0o600))
        os.unlink(probe)
        return True
    except (OSError, RuntimeError) as exc:
        warn_unusable(exc)
        return False


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
            target = stem.with_suffix(f".{fmt}")
            try:
                write_atomically(target, buffer.getvalue())
            except OSError as exc:  # a full disk, a read-only folder: name the file, not a traceback
                raise OutputError.from_os_error(target, exc) from None
    finally:
        _close(drawing)


def _close(drawing) -> None:
    # A pyplot-made figure is registered with pyplot's manager; close it there, without importing pyplot.
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(drawing)
    drawing.clear()
