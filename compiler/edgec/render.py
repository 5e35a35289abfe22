"""Render a Jinja2 template of templates/ (generated C, CMake, assembly, bench programs).

The environment is strict (an undefined name is an error) and gives templates the escaping filters:
every string from a model file or the command line goes through one of them (escaping.py).
"""
from __future__ import annotations

import jinja2

from edgec.escaping import c_string, cmake_string, comment_text
from edgec.paths import templates_dir


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(comment=comment_text, c_string=c_string, cmake_string=cmake_string)
    return env


def render(template: str, context: dict) -> str:
    return _env().get_template(template).render(**context)
