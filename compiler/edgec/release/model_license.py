"""The license a model declares about itself, for the SBOM: GGUF's general.license, a Hugging Face folder's
config.json "license" or README.md front matter (`license: apache-2.0`), else "unknown".

The GGUF reader here walks only the key/value header, every read checked against the file's length, and
stops at general.license: the full reader (frontends/gguf_reader.py) takes seconds on a 100 MB model."""
from __future__ import annotations

import json
import mmap
import os
import struct
from pathlib import Path

UNKNOWN = "unknown"
MAX_LICENSE_CHARS = 200    # an SPDX expression or a short name; longer text is not a license identifier
README_BYTES = 64 << 10    # the front matter is at the top of a model card

# GGUF value types (the GGUF specification) -> size in bytes of a fixed-size value
_FIXED_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def model_license(path: str, source_format: str) -> str:
    """The model's declared license (an SPDX id or expression as the model states it), or "unknown"."""
    try:
        if source_format == "gguf":
            found = gguf_license(path)
        elif source_format == "hf":
            found = hf_license(Path(path))
        else:   # llama2.c checkpoints carry no metadata
            found = None
    except (OSError, ValueError, UnicodeDecodeError):
        found = None
    return _clean(found)


def _clean(value) -> str:
    if not isinstance(value, str):
        return UNKNOWN
    value = " ".join(value.split())
    return value if 0 < len(value) <= MAX_LICENSE_CHARS else UNKNOWN


def hf_license(folder: Path):
    """config.json's "license", else the README.md front matter's `license:` line."""
    config = folder / "config.json"
    if config.is_file():
        c = json.loads(config.read_bytes())
        if isinstance(c, dict) and isinstance(c.get("license"), str):
            return c["license"]
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    with open(readme, "rb") as f:
        lines = f.read(README_BYTES).decode("utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() == "license":
            return value.strip().strip("'\"")
    return None


def gguf_license(path: str):
    """general.license of a GGUF file (version 2 or 3, little-endian), or None."""
    if os.path.getsize(path) < 24:
        return None
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _GgufHeader(data).find_string("general.license")


class _GgufHeader:
    """A cursor over a GGUF header in which every read must fit in the file (a bad file gives ValueError)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError("GGUF header runs past the end of the file")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def skip(self, n_bytes: int) -> None:
        if n_bytes < 0 or self.pos + n_bytes > len(self.data):
            raise ValueError("GGUF value runs past the end of the file")
        self.pos += n_bytes

    def string(self) -> bytes:
        n = self.read("<Q")
        start = self.pos
        self.skip(n)
        return bytes(self.data[start:self.pos])

    def skip_value(self, value_type: int, depth: int = 0) -> None:
        if value_type in _FIXED_SIZES:
            self.skip(_FIXED_SIZES[value_type])
        elif value_type == _STRING:
            self.skip(self.read("<Q"))
        elif value_type == _ARRAY and depth < 2:
            elem, count = self.read("<I"), self.read("<Q")
            if elem in _FIXED_SIZES:
                self.skip(_FIXED_SIZES[elem] * count)
                return
            if count > len(self.data):   # every element takes at least one byte
                raise ValueError("GGUF array count is larger than the file")
            for _ in range(count):
                self.skip_value(elem, depth + 1)
        else:
            raise ValueError(f"GGUF value type {value_type} is unknown")

    def find_string(self, key: str):
        """The string value of key, or None (not there, another type, not GGUF v2/v3)."""
        magic, version = self.read("<4s"), self.read("<I")
        if magic != b"GGUF" or version not in (2, 3):
            return None
        self.read("<Q")                  # tensor count
        n_kv = self.read("<Q")
        for _ in range(min(n_kv, len(self.data))):
            name, value_type = self.string(), self.read("<I")
            if name == key.encode() and value_type == _STRING:
                return self.string().decode("utf-8", errors="replace")
            self.skip_value(value_type)
        return None
