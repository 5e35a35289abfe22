"""Build and drive runtime/tools/edgec_tokenize, the standalone C tokenizer, from Python."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from edgec.errors import EdgecError
from edgec.paths import runtime_dir

CFLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror")


def tokenizer_sources() -> list:
    """The C files of the tokenizer library (runtime/tokenizer/: the tokenizer and the Unicode tables)."""
    return sorted((runtime_dir() / "tokenizer").glob("*.c"))


def _tool_inputs() -> list:
    return tokenizer_sources() + sorted((runtime_dir() / "tokenizer").glob("*.h")) + \
        [runtime_dir() / "tools" / "edgec_tokenize.c"]


def build_tokenize_tool(out_dir, cc: Optional[str] = None, extra_cflags: Sequence[str] = ()) -> Path:
    """Compile edgec_tokenize into out_dir (reused while sources, compiler and flags are unchanged).
    cc defaults to $CC, else cc."""
    cc = cc or os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        raise EdgecError(f"C compiler {cc!r} not found; install it or set CC")
    key = hashlib.sha256()
    for part in [cc, *CFLAGS, *extra_cflags]:
        key.update(part.encode() + b"\0")
    for path in _tool_inputs():
        key.update(path.name.encode() + b"\0" + path.read_bytes())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tool = out_dir / f"edgec_tokenize-{key.hexdigest()[:16]}"
    if tool.exists():
        return tool
    runtime = runtime_dir()
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:  # build aside, then rename: safe in parallel
        built = Path(tmp) / "edgec_tokenize"
        cmd = [cc, *CFLAGS, *extra_cflags, "-I", str(runtime / "tokenizer"), "-o", str(built),
               str(runtime / "tools" / "edgec_tokenize.c"), *map(str, tokenizer_sources())]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise EdgecError(f"building the tokenizer tool failed: {' '.join(cmd)}\n{result.stderr}")
        os.replace(built, tool)
    return tool


def check_text_file(path, flag: str) -> Path:
    """path as a Path when it is a readable file; else a one-line error naming it and the flag."""
    path = Path(path)
    if not path.exists():
        raise EdgecError(f"{flag} {path}: no such file; pass an existing UTF-8 text file")
    if path.is_dir():
        raise EdgecError(f"{flag} {path} is a folder; pass a UTF-8 text file")
    if not os.access(path, os.R_OK):
        raise EdgecError(f"{flag} {path} is not readable; check its permissions")
    return path


def _run(cmd: list, stdin: Optional[bytes] = None, env: Optional[dict] = None) -> bytes:
    result = subprocess.run(cmd, input=stdin, capture_output=True, env=env)
    if result.returncode != 0:
        raise EdgecError(f"{' '.join(map(str, cmd))} failed (exit {result.returncode}): "
                         f"{result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _line_count(text_path: Path) -> int:
    data = Path(text_path).read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def tokenize_lines(tool: Path, blob_path: Path, text_path: Path, parse_special: bool = False,
                   env: Optional[dict] = None) -> list:
    """Token ids of each line of text_path (without its "\\n"), as the C tokenizer encodes it."""
    cmd = [str(tool)] + (["--special"] if parse_special else []) + [str(blob_path), str(text_path)]
    out = _run(cmd, env=env).decode("ascii").split("\n")
    lines = out[:-1]  # every output line ends with "\n"
    if out[-1] != "" or len(lines) != _line_count(text_path):
        raise EdgecError(f"{tool} printed {len(lines)} lines for the {_line_count(text_path)} of {text_path}")
    return [[int(x) for x in line.split()] for line in lines]


def tokenize_text(tool: Path, blob_path: Path, text_path: Path, parse_special: bool = False,
                  env: Optional[dict] = None) -> list:
    """Token ids of the whole file as one text (newlines included)."""
    cmd = [str(tool), "--whole"] + (["--special"] if parse_special else []) + [str(blob_path), str(text_path)]
    return [int(x) for x in _run(cmd, env=env).decode("ascii").split()]


def decode_ids(tool: Path, blob_path: Path, ids: Sequence[int], env: Optional[dict] = None) -> bytes:
    """The bytes the C tokenizer decodes ids to."""
    return _run([str(tool), "--decode", str(blob_path)], " ".join(map(str, ids)).encode(), env=env)


def pretokenize_lines(tool: Path, blob_path: Path, text_path: Path, env: Optional[dict] = None) -> list:
    """Byte offsets where each line's pre-tokenizer pieces end (a test hook for the regexes)."""
    out = _run([str(tool), "--pretokenize", str(blob_path), str(text_path)], env=env).decode("ascii").split("\n")
    return [[int(x) for x in line.split()] for line in out[:-1]]


def tokenizer_info(tool: Path, blob_path: Path) -> dict:
    """What the C API reports about a blob: ids, flags, chat strings (C-escaped), stop tokens."""
    out = _run([str(tool), "--info", str(blob_path)]).decode("utf-8")
    return dict(line.split("=", 1) for line in out.splitlines())
