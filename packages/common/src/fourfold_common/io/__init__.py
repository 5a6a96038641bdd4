"""Small I/O helpers: atomic writes and JSON run records.

Example:
    >>> import tempfile, pathlib
    >>> from fourfold_common.io import make_run_record, read_run_record, write_run_record
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> _ = write_run_record(path, make_run_record("demo", {}, {"psnr": 24.0}, packages=[]))
    >>> read_run_record(path)["figures"]
    {'psnr': 24.0}
"""

from fourfold_common.io._atomic import atomic_open, atomic_write_bytes, atomic_write_text
from fourfold_common.io._records import (
    RECORD_FORMAT,
    git_revision,
    make_run_record,
    package_versions,
    read_run_record,
    write_run_record,
)

__all__ = [
    "RECORD_FORMAT",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "git_revision",
    "make_run_record",
    "package_versions",
    "read_run_record",
    "write_run_record",
]
