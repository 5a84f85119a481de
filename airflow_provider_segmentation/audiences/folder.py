"""Read the audience folder safely: only regular files inside it, each under a size cap, never blocking.

Every file of the folder is read through ``read_inside``: the audience files that ``audience_files``
lists and the ``.pql`` files that expressions name by path alike. It refuses, with a ``FolderFileError``
that names the file and the rule (``RULES``):

- a path that leaves the folder: absolute, or with ``..`` past the folder's top (``outside``);
- a symlink whose target is outside the folder (``symlink-outside``); symlinks that stay inside are
  followed, to a regular file; folders reached through a symlink are not walked;
- anything but a regular file (``not-regular``): a FIFO, a device, a socket, a folder. The type is checked
  before the file is opened, the file is opened non-blocking without following a symlink and checked
  again, so a FIFO never blocks the reader and a file swapped between the two checks is refused;
- a file over ``MAX_FILE_BYTES`` (``too-large``), read in bounded chunks so a growing file is refused too;
- a missing file (``missing``), text that is not UTF-8 (``not-utf8``), any other OS error (``unreadable``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from airflow_provider_segmentation.audiences.errors import FolderFileError

# The tool's own cap, far above any audience or PQL file; it is not an AEP limit (Adobe documents none
# for files: they never reach AEP, only the expression text does).
MAX_FILE_BYTES = 1024 * 1024
SUFFIXES = (".yaml", ".yml")
RULES = {
    "outside": "the path leaves the audience folder; name files inside it, relative to the YAML file",
    "symlink-outside": "a symlink leads out of the audience folder; copy the file into the folder",
    "not-regular": "only regular files are read",
    "too-large": f"files over {MAX_FILE_BYTES} bytes are not read; split it",
    "missing": "no such file",
    "not-utf8": "the file is not UTF-8 text; save it as UTF-8",
    "unreadable": "the file cannot be read",
}
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symlink that leads nowhere (a loop)"),
)
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # the last component is never a symlink here (realpath): if it became one
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the type check opens without waiting
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK = 64 * 1024


def audience_files(root: Path) -> list[Path]:
    """Every ``.yaml``/``.yml`` entry under ``root`` of any kind (``read_inside`` decides which may be read),
    hidden files and folders skipped, folders reached through a symlink not walked; sorted."""
    return sorted(_entries(root))


def _entries(root: Path) -> Iterator[Path]:
    for directory, folders, names in os.walk(root):  # followlinks=False: a symlinked folder is not walked
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            if not name.startswith(".") and name.endswith(SUFFIXES):
                yield Path(directory, name)


def read_inside(root: Path, path: Path) -> str:
    """The UTF-8 text of ``path`` (absolute, or relative to the working directory, like ``root``), if it
    is a regular file inside ``root`` of at most ``MAX_FILE_BYTES``; ``FolderFileError`` otherwise."""
    top = os.path.abspath(root)
    lexical = os.path.abspath(path)  # normalised: ``..`` is resolved against the path as written
    if not _within(lexical, top):
        raise FolderFileError(str(path), "outside", RULES["outside"])
    real = os.path.realpath(lexical)
    if not _within(real, os.path.realpath(top)):
        raise FolderFileError(str(path), "symlink-outside", RULES["symlink-outside"])
    try:
        seen = os.lstat(real)
    except OSError as exc:
        raise _os_error(path, exc) from None
    _check_regular(path, seen)
    try:
        handle = os.fdopen(os.open(real, _OPEN_FLAGS), "rb")
    except OSError as exc:
        raise _os_error(path, exc) from None
    with handle:
        opened = os.fstat(handle.fileno())
        _check_regular(path, opened)
        if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
            raise FolderFileError(str(path), "not-regular", "the file was replaced while it was read")
        data = _read_bounded(handle, str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FolderFileError(str(path), "not-utf8", f"{RULES['not-utf8']} ({exc.reason})") from None


def _within(path: str, top: str) -> bool:
    try:
        return os.path.commonpath([path, top]) == top
    except ValueError:  # another drive (Windows)
        return False


def _check_regular(path: Path, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _KINDS if test(status.st_mode)), "not a file")
        raise FolderFileError(str(path), "not-regular", f"it is {kind}: {RULES['not-regular']}")
    if status.st_size > MAX_FILE_BYTES:
        raise FolderFileError(str(path), "too-large", f"{status.st_size} bytes: {RULES['too-large']}")


def _read_bounded(handle: BinaryIO, shown: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := handle.read(min(_CHUNK, MAX_FILE_BYTES + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_FILE_BYTES:  # it grew after the size check
            raise FolderFileError(shown, "too-large", f"over {MAX_FILE_BYTES} bytes: {RULES['too-large']}")
    return b"".join(chunks)


def _os_error(path: Path, exc: OSError) -> FolderFileError:
    if isinstance(exc, FileNotFoundError):
        return FolderFileError(str(path), "missing", RULES["missing"])
    return FolderFileError(str(path), "unreadable", f"{RULES['unreadable']}: {exc.strerror or exc}")
