"""Atomic file writes: readers see the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, overload


@overload
@contextlib.contextmanager
def atomic_open(path: str | Path, mode: Literal["wb"]) -> Iterator[IO[bytes]]: ...
@overload
@contextlib.contextmanager
def atomic_open(path: str | Path, mode: Literal["w"] = "w") -> Iterator[IO[str]]: ...
@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[bytes] | IO[str]]:
    """Open a temporary file beside ``path`` and move it over ``path`` on success.

    The data is flushed and fsynced before the rename; on an exception the temporary file is
    removed and ``path`` is left untouched. Parent directories are created.

    Args:
        path: Final destination.
        mode: ``"w"`` (text, UTF-8) or ``"wb"`` (binary).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_open(target) as handle:
        ...     _ = handle.write("hello")
        >>> target.read_text()
        'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        encoding = None if mode == "wb" else "utf-8"
        with os.fdopen(descriptor, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    r"""Write ``data`` to ``path`` atomically and return the path.

    Example:
        >>> import tempfile, pathlib
        >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "a.bin", b"\\x01")
        >>> p.read_bytes()
        b'\\x01'
    """
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and return the path."""
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)
