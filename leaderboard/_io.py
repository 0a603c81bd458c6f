"""Hashing and canonical JSON for result files; atomic writes come from :mod:`invgym.atomic` (the one helper)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from invgym.atomic import atomic_write_json, atomic_write_text, jsonable

__all__ = ["atomic_write_json", "atomic_write_text", "canonical_json", "jsonable", "read_json", "sha256_bytes",
           "sha256_file"]


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def canonical_json(data: Any) -> bytes:
    """Return the canonical encoding hashed for integrity: sorted keys, no whitespace, UTF-8."""
    return json.dumps(jsonable(data), sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
