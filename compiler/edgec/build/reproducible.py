"""The environment that makes two builds of the same sources byte-identical (docs/artifacts.md, "Release").

Paths are made relative by the artifact's CMakeLists.txt (-ffile-prefix-map of its own folder, which is the
staging folder while edgec builds), build IDs are a hash of the output (-Wl,--build-id=sha1); what is left
to the environment is time: SOURCE_DATE_EPOCH fixes __DATE__/__TIME__ in the compilers and the tarball's
and the SBOM's dates."""
from __future__ import annotations

import os

from edgec.errors import EdgecError

# 1980-01-01T00:00:00Z: the earliest time a zip (the wheel) can hold; used for the tarball too when
# SOURCE_DATE_EPOCH is unset, so a release built from the same inputs is the same file whenever it is built.
DEFAULT_SOURCE_DATE_EPOCH = 315532800


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH from the environment (a release pipeline sets it, e.g. to the commit's time), else the default."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return DEFAULT_SOURCE_DATE_EPOCH
    if not value.isdigit():
        raise EdgecError(f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds since 1970; "
                         "set it to an integer (e.g. $(git log -1 --format=%ct)) or unset it")
    return int(value)


def epoch_is_set() -> bool:
    """Whether the caller chose a date (the SBOM then carries it; without one it carries none)."""
    return bool(os.environ.get("SOURCE_DATE_EPOCH", "").strip())


def build_environment() -> dict:
    """The environment for cmake and the compilers: this one with SOURCE_DATE_EPOCH fixed."""
    return {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch())}
