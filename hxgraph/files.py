"""Writing user files so that they are never half-written.

Every file hxgraph writes for a user (graphs, NIR files, figures, the demo's summary) goes
through `atomic_write`: the content goes to a temporary file in the target's directory,
is flushed and fsync'ed, and only then renamed over the target with `os.replace`, which
is atomic on POSIX and Windows within one file system. A failure part way (disk full, a
file-size limit, an exception in the code producing the content) leaves an existing
target byte for byte as it was and removes the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Union

from hxgraph.errors import ParameterError, SerializationError

__all__ = ["atomic_write", "write_bytes", "write_text"]

PathLike = Union[str, "os.PathLike[str]"]


def target_path(path: Any, what: str = "path") -> Path:
    """`path` as a `Path`, refusing what is not a file system path (None, numbers, open files)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"{what} must be a file path (str or os.PathLike); got {type(path).__name__}")
    return Path(path)


def source_path(path: Any, what: str, noun: str) -> Path:
    """A path to read `noun` from: what is not a path, or a directory, is a `SerializationError`."""
    try:
        path = target_path(path, what)
    except ParameterError as exc:
        raise SerializationError(str(exc)) from None
    if path.is_dir():
        raise SerializationError(f"{str(path)!r} is a directory, not {noun}")
    return path


@contextlib.contextmanager
def atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file to write `path`'s new content into; on success it replaces `path`.

    If the block raises (or writing, flushing or syncing fails), `path` is left as it was
    and the temporary file is removed. A symbolic link at `path` is followed, so the file
    it points to is replaced rather than the link. The permissions of a replaced file are
    kept; a new file gets the usual ones (0o666 less the umask).
    """
    target = _resolve(target_path(path))
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, cannot write a file there", str(target))
    fd, temporary = _create_temporary(target)
    try:
        with open(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _keep_permissions(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(target.parent)


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Replace `path`'s content by `data` atomically (see `atomic_write`); returns the path."""
    with atomic_write(path) as handle:
        handle.write(data)
    return Path(path)


def write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Replace `path`'s content by `text` atomically (see `atomic_write`); returns the path."""
    return write_bytes(path, text.encode(encoding))


def _resolve(target: Path) -> Path:
    # os.replace would replace a symbolic link itself; write where it points instead.
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def _create_temporary(target: Path) -> tuple[int, Path]:
    """Open a new, uniquely named file next to `target` (same directory, so same file system)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            # Mode 0o666 lets the umask decide the permissions, as for any newly created file.
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
        except OSError as exc:
            # Name the file the user asked for, not our temporary one.
            raise type(exc)(exc.errno, exc.strerror, str(target)) from None


def _keep_permissions(target: Path, temporary: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.chmod(temporary, os.stat(target).st_mode & 0o7777)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
