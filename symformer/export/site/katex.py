"""KaTeX through Node.js: find the package, typeset a batch of formulas in one process, copy its styles.

The site's mathematics is typeset at build time, so a page needs no script to show a formula and
no network at all: KaTeX's ``renderToString`` runs once per build in one Node.js process over every
formula of the course (``assets/render.js`` reads them as JSON on standard input). KaTeX is not
copied into the repository; it is found where npm puts it, and only its stylesheet and woff2 fonts
are copied into the site.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from symformer.export.content_cache import load as load_kept, store as keep
from symformer.errors import SymformerError, UsageError

KATEX_VERSION = "0.19.1"
INSTALL = f"npm install -g katex@{KATEX_VERSION}"
RENDER_SCRIPT = Path(__file__).with_name("assets") / "render.js"
TIMEOUT_SECONDS = 120


class SiteError(SymformerError):
    """The site could not be written (a figure file missing, KaTeX failing)."""


class KatexError(SiteError):
    """KaTeX could not typeset a formula, or Node.js failed while typesetting."""


@dataclass(frozen=True)
class Katex:
    """Where KaTeX lies (a folder holding ``dist/``) and the ``node`` that runs it."""

    folder: Path
    node: str

    @property
    def version(self) -> str:
        try:
            return json.loads((self.folder / "package.json").read_text()).get("version", "unknown")
        except (OSError, ValueError):
            return "unknown"


def find_katex(cwd: Path | None = None) -> Katex | None:
    """KaTeX from ``$SYMFORMER_KATEX``, else ``node_modules/katex`` here, else npm's global folder; None if absent.

    A ``$SYMFORMER_KATEX`` that does not hold KaTeX is a usage error, not a silent fallback.

    >>> found = find_katex()
    >>> found is None or (found.folder / "dist" / "katex.js").is_file()
    True
    """
    node = shutil.which("node")
    named = os.environ.get("SYMFORMER_KATEX")
    if named:
        if not _holds_katex(Path(named)):
            raise UsageError(f"SYMFORMER_KATEX={named} holds no KaTeX (expected {Path(named) / 'dist' / 'katex.js'}); "
                             f"point it at the katex folder npm made, or unset it")
        return Katex(Path(named).resolve(), node) if node else None
    if node is None:
        return None
    local = Path(cwd or Path.cwd()) / "node_modules" / "katex"
    if _holds_katex(local):
        return Katex(local.resolve(), node)
    npm = shutil.which("npm")
    if npm:
        try:
            root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = ""
        if root and _holds_katex(Path(root) / "katex"):
            return Katex((Path(root) / "katex").resolve(), node)
    return None


def missing_katex_message() -> str:
    """The one line a build logs when it cannot typeset the site."""
    what = "KaTeX" if shutil.which("node") else "Node.js and KaTeX"
    return (f"no {what} found, so site/ was not written; the notes and slides are ready. "
            f"Install Node.js, then: {INSTALL} (or set SYMFORMER_KATEX to a folder holding katex's dist/)")


def _holds_katex(folder: Path) -> bool:
    return (folder / "dist" / "katex.js").is_file() and (folder / "dist" / "katex.min.css").is_file()


def render(katex: Katex, formulas: list) -> list:
    """Typeset ``formulas`` (``(tex, display)`` pairs); return per formula ``("html", text)`` or ``("error", message)``.

    A batch typeset before by the same KaTeX and script comes from the cache (the verdicts' folder),
    so a rebuild that changed no formula starts no Node.js process.
    """
    if not formulas:
        return []
    key = hashlib.sha256(json.dumps([str(katex.folder), katex.version, RENDER_SCRIPT.read_text(), formulas]).encode()).hexdigest()
    cached = load_kept("katex", key)
    if isinstance(cached, list) and len(cached) == len(formulas) and \
            all(isinstance(pair, list) and len(pair) == 2 and pair[0] == "html" and isinstance(pair[1], str) for pair in cached):
        return [tuple(pair) for pair in cached]
    results = _run(katex, formulas)
    if all(kind == "html" for kind, _ in results):
        keep("katex", key, [list(pair) for pair in results])
    return results


def _run(katex: Katex, formulas: list) -> list:
    request = json.dumps({"katex": str(katex.folder), "formulas": [[tex, bool(display)] for tex, display in formulas]})
    try:
        done = subprocess.run([katex.node, str(RENDER_SCRIPT)], input=request, capture_output=True, text=True,
                              timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise KatexError(f"KaTeX took more than {TIMEOUT_SECONDS} s to typeset {len(formulas)} formulas") from None
    except OSError as exc:
        raise KatexError(f"could not run {katex.node}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise KatexError(f"KaTeX in {katex.folder} failed under {katex.node}: {last}")
    results = json.loads(done.stdout)["results"]
    return [("html", r["html"]) if "html" in r else ("error", r["error"]) for r in results]


# Each @font-face of katex.min.css lists woff2, woff and ttf; every browser the site targets reads woff2.
_FONT_SOURCES = re.compile(r'src:url\((fonts/[A-Za-z0-9_-]+\.woff2)\) format\("woff2"\)(,url\([^)]*\) format\("[a-z]+"\))*')


def stylesheet(katex: Katex) -> str:
    """KaTeX's stylesheet, its font sources cut to the woff2 files the site ships."""
    css = (katex.folder / "dist" / "katex.min.css").read_text()
    return _FONT_SOURCES.sub(lambda m: f'src:url({m.group(1)}) format("woff2")', css)


def fonts(katex: Katex) -> dict:
    """The woff2 fonts the stylesheet names: ``{file name: bytes}``."""
    folder = katex.folder / "dist" / "fonts"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.woff2"))}
