"""The project's one way to write a file: atomically, with the permissions of an ordinary new file.

Every writer in invgym (leaderboard results and pages, suite files, agent checkpoints, datasets, SVGs) goes
through :func:`atomic_writer`: the data is written to a temporary file in the target's directory, flushed and
fsynced, given the mode an ``open(path, "w")`` would give (``0o666`` minus the umask; ``mkstemp`` alone would
leave ``0o600``), then renamed over the target with ``os.replace``. The rename is atomic on POSIX and Windows
when source and target share a file system, which the same directory guarantees, so a reader — or a run killed
with ``SIGKILL`` at any instant — sees the old file or the new one, never a mix. A failed write removes its
temporary file and leaves the old file in place.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_save", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "atomic_writer",
           "jsonable", "remove_orphans"]


def jsonable(value: Any) -> Any:
    """Return ``value`` with numpy scalars/arrays as Python values, tuples as lists and NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN
    return value


def _umask() -> int:
    # The umask can only be read by setting it; set it straight back (one instant, this thread only).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Persist a rename (POSIX; directories cannot be opened on Windows, where this is skipped)."""
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


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on a clean exit it replaces ``path`` atomically.

    Args:
        path: the target file (its directory is created if needed).
        mode: ``"w"`` (text, UTF-8) or ``"wb"`` (bytes).

    Yields:
        The open temporary file. If the ``with`` block raises, the temporary file is removed and ``path`` is
        left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"The 'mode' parameter of atomic_writer must be 'w' or 'wb'. Got {mode!r} instead.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_writer(path, "w") as handle:
        handle.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_writer(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, data: Any, *, default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``data`` as indented strict JSON (no NaN: numpy values and non-finite floats are converted first).

    Args:
        path: the target file.
        data: JSON-able data; numpy scalars and arrays become Python values, NaN and inf become ``null``.
        default: as in :func:`json.dumps`, for other types.
    """
    return atomic_write_text(path, json.dumps(jsonable(data), indent=2, allow_nan=False, default=default) + "\n")


def atomic_save(path: str | os.PathLike, save: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``save(handle)`` on a binary temporary file, then move it over ``path`` atomically.

    For writers that take a file object: ``atomic_save(p, lambda f: torch.save(state, f))`` or
    ``atomic_save(p, lambda f: np.savez(f, **arrays))`` (a file object also keeps numpy from appending ``.npz``).
    """
    with atomic_writer(path, "wb") as handle:
        save(handle)
    return Path(path)


def remove_orphans(directory: str | os.PathLike, name: str = "*") -> list[Path]:
    """Remove the temporary files that killed writers of ``directory/name`` left behind; return them.

    A writer killed with ``SIGKILL`` between ``mkstemp`` and ``os.replace`` cannot clean up, so its
    ``.NAME.XXXX.tmp`` stays beside the target (the target itself is untouched). Call this only while holding the
    lock that excludes every other writer of those targets: a live writer's temporary would be removed too.

    Args:
        directory: the directory the targets are in (nothing happens if it does not exist).
        name: the target's file name, or a glob over names (every target in the directory by default).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for orphan in directory.glob(f".{name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            orphan.unlink()
            removed.append(orphan)
    return removed
