"""Whole-file writes that survive a crash: the old content or the new, never a mix.

``atomic_write`` is the product's one way to replace a file (STYLE.md "Durability
is explicit"), in this order:

1. a new temporary file in the same directory (same file system, so the rename
   below is atomic), created with ``O_EXCL`` and mode 0600 when a mode is given
   (a private key is never readable by others, not even for an instant);
2. the data written, flushed and ``fsync``-ed, then the mode set (``fchmod``);
3. ``os.replace`` onto the target (readers see the old file or the new one);
4. ``fsync`` of the directory, so the rename itself survives a power cut.

On any failure the temporary file is removed and the target is untouched. The
directory must exist (callers choose its mode: a keys directory is 0700).

``mode=None`` gives the mode a plain ``open(path, "w")`` would (0666 less the
umask); an explicit mode is applied exactly, whatever the umask.

Example::

    atomic_write(paths.role("count").key, pem, mode=0o600)
    atomic_write(paths.link_state, json.dumps(state).encode())
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically and durably (see the module doc)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 0o666 if mode is None else 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: str | os.PathLike) -> None:
    """Make the entries of ``directory`` (a rename, a new file) durable."""
    dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
