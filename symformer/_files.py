"""Writing files so that a reader never sees half of one: a temporary file, then one rename.

The bottom of the package (beside ``errors``): the cache, the exports, the build and the
tokenizer's vocabularies all write through here. Writes survive the process being killed at any
moment (the old file or the new one is in place, never a mix); they do not fsync, so a power cut
is another matter.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path


def write_atomically(path: Path, text: str | bytes, *, private: bool = False) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half a file.

    An OSError names ``path``. The file gets the permissions the user's umask gives any new file (0644 under umask 022), so a
    build can be copied to a web server; ``private`` files (the cache) are readable by their owner
    only. A symbolic link keeps pointing at the new file; a device or pipe (``/dev/stdout``) is
    written into, not replaced. A process killed mid-write leaves ``.NAME.XXXXXXXX.tmp``, which
    :func:`remove_unfinished` clears.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_atomically(folder / "notes.tex", "x")
    >>> (folder / "notes.tex").read_text(), sorted(p.name for p in folder.iterdir())
    ('x', ['notes.tex'])
    >>> import shutil; shutil.rmtree(folder)
    """
    path = Path(path)
    data = text.encode() if isinstance(text, str) else text
    try:
        _write(path, data, private)
    except OSError as exc:  # name the file being written, not its temporary
        if exc.filename == str(path) or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc


def _write(path: Path, data: bytes, private: bool) -> None:
    try:
        existing = os.stat(path)  # follows a symbolic link
    except OSError:
        existing = None
    if existing is not None and not (stat.S_ISREG(existing.st_mode) or stat.S_ISDIR(existing.st_mode)):
        with open(path, "wb") as stream:  # a device or a pipe (/dev/stdout): nothing to replace, write into it
            stream.write(data)
        return
    if path.is_symlink():  # replace the file the link points to, not the link
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:  # the kernel applies the umask (and a folder's default ACL) to the mode asked for
            handle = os.open(temporary, flags, 0o600 if private else 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


_UNFINISHED = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


def remove_unfinished(folder: Path) -> list:
    """Delete the temporary files that writers killed mid-write left in ``folder``; return their paths.

    Call it only while no other writer is at work in ``folder`` (the build holds its folder's lock).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".notes.tex.0123abcd.tmp").write_text("half")
    >>> [p.name for p in remove_unfinished(folder)], list(folder.iterdir())
    (['.notes.tex.0123abcd.tmp'], [])
    >>> folder.rmdir()
    """
    removed = []
    try:
        candidates = [p for p in Path(folder).iterdir() if _UNFINISHED.match(p.name)]
    except OSError:
        return removed
    for path in candidates:
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed
