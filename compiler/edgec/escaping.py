"""Strings from a model file or the command line, made safe for the language they land in.

Nothing a user or a model file names becomes code: every such string reaches generated C, CMake,
JSON, a terminal or a shell line through one of these functions (templates use them as filters).
"""
from __future__ import annotations

import re
import shlex

# Characters kept in comments: printable ASCII minus those that could end or continue a
# C comment (* / \), start a trigraph (?) or a C/CMake line (# stays: it is harmless mid-line).
_COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9 ._,:;+=@#%&()\[\]{}<>!~^|'$-]")
COMMENT_MAX = 96


def display_text(s) -> str:
    """A str for messages and JSON: undecodable bytes (surrogate-escaped file names) as \\xNN, control
    characters (newlines, NUL, ESC) as escapes, so one value stays one line and one token on a terminal."""
    s = str(s)
    s = s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in s)


def comment_text(s) -> str:
    """Text for a C block comment or a CMake line comment: one line of harmless printable ASCII."""
    s = _COMMENT_UNSAFE.sub("_", display_text(s))
    return s if len(s) <= COMMENT_MAX else s[:COMMENT_MAX - 3] + "..."


def c_string(s) -> str:
    """A C string literal (with its quotes) holding the UTF-8 bytes of s, every byte outside
    printable ASCII or special to C written as an octal escape."""
    out = []
    for b in str(s).encode("utf-8", "surrogateescape"):
        ch = chr(b)
        out.append(ch if 0x20 <= b < 0x7F and ch not in '"\\?' else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def cmake_string(s) -> str:
    """A CMake quoted argument (with its quotes) of plain name characters: no variable
    references, list separators or escapes can survive."""
    return '"' + re.sub(r"[^A-Za-z0-9_.+-]", "_", display_text(s)) + '"'


def shell_word(s) -> str:
    """One word for a POSIX shell line the user is told to run."""
    return shlex.quote(display_text(s))
