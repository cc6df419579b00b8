"""Finding derivations: in the built-in course and in an instructor's own files, as pytest finds tests.

Every ``.py`` file of a folder whose name does not start with ``_`` is imported, and every
module-level :class:`Derivation` (or list or tuple of them) is collected, in the order the file
defines them. No registration is needed. A file may set ``ORDER = <number>`` to place its topic in
the course; files without it come after, by name.

A file that fails to import is reported with its path and the exception, and the other files are
still collected. So is a file that calls ``sys.exit`` while being imported (which would otherwise end
the run with that exit code and nothing verified) or whose import does not finish within
``IMPORT_TIME_BOUND`` seconds. What a file prints while being imported goes to stderr.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from symformer.engine.model import Derivation
from symformer.engine.timebound import TimeBoundExceeded, run_bounded
from symformer.engine.usercode import DERIVATION_MODULE_PREFIX, file_digest, local_modules, stdout_to_stderr
from symformer.errors import LoadError, SymformerError, UnknownDerivation, UsageError


@dataclass
class Discovery:
    """What a search found: the derivations, in course order, and the files that failed to load."""

    derivations: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # LoadError objects


def builtin_folder() -> Path:
    """The folder of the built-in course: shipped inside the package, or beside it in a checkout."""
    installed = Path(__file__).resolve().parent.parent / "derivations"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent.parent / "derivations"
    if checkout.is_dir():
        return checkout
    raise SymformerError(f"the built-in derivations are missing (looked in {installed} and {checkout}); reinstall symformer")


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"{DERIVATION_MODULE_PREFIX}{stem}_{digest}"


#: Modules already imported, by path, with the digest of the source they were imported from.
_LOADED: dict = {}

#: The instructor's own modules that derivation files imported, by module name.
_HELPERS: dict = {}

#: Seconds a derivation file's import may take.
IMPORT_TIME_BOUND = 30.0


def _import(path: Path):
    """Import ``path`` once per content: an unchanged file gives back the same module object, so
    the derivations (and anything a test patches in their module) stay the ones already handed out.

    "Unchanged" covers the instructor's own modules the file imported (a ``_helpers.py``): when one
    of them changes, the file is imported again. Before a file is imported, the helpers earlier
    derivation files brought in are dropped from ``sys.modules``, so each file imports the helpers
    it would import on its own, fresh, and never another folder's ``_helpers`` of the same name.
    """
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    known = _LOADED.get(path)
    if known is not None and known[0] == digest and all(file_digest(f) == d for f, d in known[2].items()):
        return known[1]
    for helper in _HELPERS:
        sys.modules.pop(helper, None)
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    before = set(local_modules())
    sys.modules[name] = module
    try:
        with stdout_to_stderr():
            run_bounded(lambda: spec.loader.exec_module(module), IMPORT_TIME_BOUND)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    helpers = {helper: file for helper, file in local_modules().items() if helper not in before}
    _HELPERS.update(helpers)
    _LOADED[path] = (digest, module, {file: file_digest(file) for file in helpers.values()})
    return module


def load_file(path) -> tuple[list, LoadError | None]:
    """Import one file and collect its derivations; never raises for the file's own errors."""
    path = Path(path).resolve()
    try:
        module = _import(path)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a broken file must not stop the others
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
        line = f", line {frames[-1].lineno}" if frames else ""
        if isinstance(exc, TimeBoundExceeded):
            return [], LoadError(f"{path}{line}: did not finish importing within {IMPORT_TIME_BOUND:g} s; "
                                 "does it loop, or do heavy work at import?")
        if isinstance(exc, SystemExit):
            return [], LoadError(f"{path}{line}: could not be imported: it called sys.exit({exc.code}); "
                                 "a derivation file must not exit")
        return [], LoadError(f"{path}{line}: could not be imported: {type(exc).__name__}: {exc}")
    found = []
    for value in vars(module).values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, Derivation) and not any(item is seen for seen in found):
                item.source = item.source or str(path)
                found.append(item)
    order = getattr(module, "ORDER", None)
    for item in found:
        item._order = (order if isinstance(order, (int, float)) else float("inf"), path.name)
    return found, None


def _python_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if any(part.startswith((".", "_")) for part in relative.parts):
            continue
        yield path


def discover(paths: Iterable = ()) -> Discovery:
    """Collect the derivations in ``paths`` (files or folders); no paths means the built-in course."""
    paths = [Path(p) for p in paths] or [builtin_folder()]
    result = Discovery()
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(_python_files(path))
        elif path.is_file():
            if path.suffix != ".py":
                raise UsageError(f"{path} is not a Python file; give .py files or folders of them")
            files.append(path)
        else:
            raise UsageError(f"{path} does not exist; give a derivation file, a folder, or a built-in name")
    unique = {}
    for file in files:  # a file named twice, or also found through its folder, is loaded once
        unique.setdefault(file.resolve(), file)
    files = list(unique.values())
    seen = {}
    for file in files:
        derivations, error = load_file(file)
        if error is not None:
            result.errors.append(error)
        for derivation in derivations:
            if derivation.slug in seen:
                result.errors.append(LoadError(
                    f"{file}: derivation {derivation.slug!r} is also defined in {seen[derivation.slug]}; slugs must be unique"))
                continue
            seen[derivation.slug] = file
            result.derivations.append(derivation)
    result.derivations.sort(key=lambda d: getattr(d, "_order", (float("inf"), "")))
    return result


def builtin_slugs() -> dict:
    """Slug -> file of every built-in derivation, read from the course's source without importing it.

    Importing the course takes seconds; checking a user's slugs against it must not.
    The course writes every slug as a literal ``slug="..."`` of a ``Derivation(...)`` call.

    >>> builtin_slugs()["softmax-jacobian"].name
    'softmax.py'
    """
    import ast

    slugs = {}
    for path in _python_files(builtin_folder()):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Derivation":
                for keyword in node.keywords:
                    if keyword.arg == "slug" and isinstance(keyword.value, ast.Constant):
                        slugs[keyword.value.value] = path
    return slugs


class Catalog(Mapping):
    """Derivations by slug, in course order; an unknown slug suggests the closest ones."""

    def __init__(self, derivations: Iterable[Derivation]):
        self._by_slug = {d.slug: d for d in derivations}

    def __getitem__(self, slug: str) -> Derivation:
        try:
            return self._by_slug[slug]
        except KeyError:
            close = difflib.get_close_matches(slug, list(self._by_slug), n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else "; run 'symformer list' to see them"
            raise UnknownDerivation(f"no derivation named {slug!r}{hint}") from None

    def __iter__(self):
        return iter(self._by_slug)

    def __len__(self) -> int:
        return len(self._by_slug)

    def topics(self) -> dict:
        """Topic -> derivations, in course order."""
        out: dict = {}
        for derivation in self._by_slug.values():
            out.setdefault(derivation.topic, []).append(derivation)
        return out


@lru_cache(maxsize=1)
def _builtin() -> Discovery:
    return discover()


def catalog() -> Catalog:
    """The built-in course, loaded once per process.

    >>> "softmax-jacobian" in catalog()
    True
    """
    found = _builtin()
    if found.errors:
        raise SymformerError("the built-in course failed to load:\n" + "\n".join(map(str, found.errors)))
    return Catalog(found.derivations)
