"""The libclang walk of the core: the functions it defines and the calls they make, its variables, its
#include directives, and what libclang could not parse. Only what lies in the bundle's own files is
recorded: the system and compiler headers it includes are the platform's business."""
from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import EdgecError
from edgec.verify.core_files import CoreFiles


@dataclass(frozen=True)
class Site:
    file: str   # real path
    line: int


@dataclass(frozen=True)
class Call:
    site: Site
    callee: str | None         # the function's name; None for a call through a pointer
    callee_usr: str | None
    declared_in: str | None    # the file that declares the callee (None for compiler builtins)


@dataclass
class Function:
    name: str
    usr: str
    site: Site
    exported: bool             # external linkage: an API entry point
    calls: list = field(default_factory=list)


@dataclass(frozen=True)
class Variable:
    name: str
    site: Site
    scope: str                 # "global" (file scope or extern), "static" (function-static) or "local"
    const: bool
    variable_length: bool


@dataclass(frozen=True)
class Include:
    site: Site
    spelled: str               # as written: "math.h", "kernels/kernels.h"
    resolved: str | None       # real path of the file found, None when none was


@dataclass
class CoreAst:
    functions: dict = field(default_factory=dict)       # usr -> Function (each definition once)
    variables: list = field(default_factory=list)       # globals, function statics, VLAs
    includes: list = field(default_factory=list)
    address_taken: set = field(default_factory=set)     # usrs of functions used other than by calling them
    errors: list = field(default_factory=list)          # (Site or None, message) of parse errors
    ignored_header_errors: int = 0                      # errors inside the compiler's builtin headers
    sources_with_code: list = field(default_factory=list)   # sources whose unit defines a function
    clang_args: list = field(default_factory=list)


def load_cindex():
    """clang.cindex from the libclang package, or one line saying how to get it."""
    try:
        from clang import cindex
    except ImportError:
        raise EdgecError("edgec check needs the libclang Python package: pip install libclang") from None
    return cindex


@functools.lru_cache(maxsize=None)
def clang_resource_dir() -> str:
    """clang's own headers (stddef.h, the intrinsics): the libclang wheel ships only the library."""
    clang = shutil.which("clang")
    if clang is None:
        raise EdgecError("edgec check needs clang's builtin headers (stddef.h, the intrinsic headers): "
                         "install clang (apt-get install clang)")
    out = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True, timeout=60).stdout.strip()
    if not out or not Path(out, "include").is_dir():
        raise EdgecError(f"clang -print-resource-dir gave '{out}', which has no include/ folder; reinstall clang")
    return str(Path(out).resolve())


# Flags that choose the code the core compiles to (macros, ISA, language); optimisation and warnings do not.
KEPT_FLAG = re.compile(r"^(-D|-U|-I|-std=|-m|--target=)")


def clang_args(cc: str, cflags) -> list:
    """libclang arguments that select the same code as `cc cflags`: the macro and ISA flags, and the
    target triple of a cross compiler named <triple>-gcc (aarch64-linux-gnu-gcc)."""
    args = [f for f in cflags if KEPT_FLAG.match(f)]
    if not any(f.startswith("--target=") for f in args):
        words = shlex.split(cc) if cc else []
        program = os.path.basename(words[-1]) if words else ""
        cross = re.match(r"^(.+?-.+?)-(gcc|cc|clang)(-\d+)?$", program)
        if cross:
            args.insert(0, f"--target={cross.group(1)}")
    if not any(f.startswith("-std=") for f in args):
        args.insert(0, "-std=c11")
    target = next((f for f in args if f.startswith("--target=")), "")
    if "-none-" in target:   # bare metal: libclang knows no sysroot; take the C library's headers from cc
        args += [f"-isystem{d}" for d in c_library_include_dirs(cc, cflags)]
    return args


def c_library_include_dirs(cc: str, cflags) -> list:
    """The cross compiler's own include search list (cc -E -Wp,-v), without gcc's private headers
    (libclang brings its own builtin ones): for arm-none-eabi-gcc, newlib's /usr/include/newlib."""
    try:
        r = subprocess.run([*shlex.split(cc), *cflags, "-E", "-Wp,-v", "-x", "c", os.devnull],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    dirs = [line.strip() for line in r.stderr.splitlines() if line.startswith(" /")]
    return [d for d in dirs if "/lib/gcc/" not in os.path.realpath(d)]


class BundleMembership:
    """Whether a file is one of the bundle's: a source, or under one of its include folders."""

    def __init__(self, files: CoreFiles):
        self.sources = {os.path.realpath(s) for s in files.sources}
        self.folders = [os.path.realpath(d) + os.sep for d in files.include_dirs]
        self.cache = {}

    def holds(self, name) -> bool:
        if name is None:
            return False
        if name not in self.cache:
            real = os.path.realpath(name)
            self.cache[name] = real in self.sources or any(real.startswith(f) for f in self.folders)
        return self.cache[name]


def site_of(cursor) -> Site | None:
    loc = cursor.location
    return Site(os.path.realpath(loc.file.name), loc.line) if loc.file is not None else None


ARRAY_KINDS = ("CONSTANTARRAY", "INCOMPLETEARRAY", "VARIABLEARRAY", "DEPENDENTSIZEDARRAY")


def deep_type(t):
    """(element type under any array dimensions, const at some level, a dimension has a run-time length).
    clang hoists an element's const onto the canonical array type, so each level is asked."""
    const = variable = False
    while True:
        canonical = t.get_canonical()
        const = const or canonical.is_const_qualified()
        if canonical.kind.name not in ARRAY_KINDS:
            return canonical, const, variable
        variable = variable or canonical.kind.name == "VARIABLEARRAY"
        t = canonical.element_type


def variable_of(cursor, scope: str) -> Variable:
    _, const, variable_length = deep_type(cursor.type)
    return Variable(cursor.spelling, site_of(cursor), scope, const, variable_length)


def may_hold_functions(cursor) -> bool:
    """Whether a variable's initializer can name functions (pointers, structs): a weights array of
    a million bytes is not walked cursor by cursor."""
    element, _, _ = deep_type(cursor.type)
    return element.kind.name in ("POINTER", "RECORD", "FUNCTIONPROTO", "FUNCTIONNOPROTO")


def callee_ref(call):
    """The DECL_REF_EXPR naming the function a call calls directly (under casts and parentheses), or None."""
    children = list(call.get_children())
    node = children[0] if children else None
    while node is not None and node.kind.name in ("UNEXPOSED_EXPR", "PAREN_EXPR"):
        inner = list(node.get_children())
        node = inner[0] if len(inner) == 1 else None
    return node if node is not None and node.kind.name == "DECL_REF_EXPR" else None


class CoreWalker:
    """Collects a CoreAst from the translation units of the core's sources."""

    def __init__(self, files: CoreFiles, args: list):
        self.cindex = load_cindex()
        self.files = files
        self.bundle = BundleMembership(files)
        self.resource = clang_resource_dir()
        self.ast = CoreAst(clang_args=list(args))
        self.args = [*args, *(f"-I{Path(d).resolve()}" for d in files.include_dirs),
                     f"-isystem{self.resource}/include",
                     "-ferror-limit=0"]   # clang stops parsing after 20 errors otherwise, hiding the rest
        self.seen_sites = set()

    def parse(self) -> CoreAst:
        index = self.cindex.Index.create()
        detailed = self.cindex.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD   # keeps #include directives
        for src in self.files.sources:
            tu = index.parse(str(Path(src).resolve()), args=self.args, options=detailed)
            self.collect_errors(tu)
            defined_before = len(self.ast.functions)
            code = False
            for top in tu.cursor.get_children():
                if self.bundle.holds(top.location.file.name if top.location.file else None):
                    code = self.visit_top(top) or code
            if code or len(self.ast.functions) > defined_before:
                self.ast.sources_with_code.append(Path(src))
        return self.ast

    def collect_errors(self, tu) -> None:
        for d in tu.diagnostics:
            if d.severity < self.cindex.Diagnostic.Error:
                continue
            f = d.location.file
            # libclang (the PyPI wheel) is often newer than the installed clang whose intrinsic headers it
            # reads: their inline bodies then use builtins that changed; the declarations still parse
            if f is not None and os.path.realpath(f.name).startswith(self.resource + os.sep):
                self.ast.ignored_header_errors += 1
                continue
            entry = (Site(os.path.realpath(f.name), d.location.line) if f else None, d.spelling)
            if entry not in self.ast.errors:
                self.ast.errors.append(entry)

    def visit_top(self, cursor) -> bool:
        """Records one file-scope declaration of the bundle; True when it is a function definition."""
        kind = cursor.kind.name
        if kind == "INCLUSION_DIRECTIVE":
            self.record_include(cursor)
        elif kind == "FUNCTION_DECL" and cursor.is_definition():
            self.record_function(cursor)
            return True
        elif kind == "VAR_DECL":
            if self.first_time(cursor):
                self.ast.variables.append(variable_of(cursor, "global"))
            if may_hold_functions(cursor):
                self.scan_function_refs(cursor)   # a table of task functions takes their addresses
        return False

    def first_time(self, cursor) -> bool:
        key = (cursor.kind.name, cursor.spelling, site_of(cursor))
        if key in self.seen_sites:
            return False
        self.seen_sites.add(key)
        return True

    def record_include(self, cursor) -> None:
        if not self.first_time(cursor):
            return
        try:
            included = cursor.get_included_file()
        except Exception:   # a file libclang could not find (reported among the errors too)
            included = None
        resolved = os.path.realpath(included.name) if included is not None and included.name else None
        self.ast.includes.append(Include(site_of(cursor), cursor.spelling, resolved))

    def record_function(self, cursor) -> None:
        usr = cursor.get_usr()
        if usr in self.ast.functions:   # a header's inline function, seen again from another unit
            return
        fn = Function(cursor.spelling, usr, site_of(cursor),
                      cursor.linkage == self.cindex.LinkageKind.EXTERNAL)
        self.ast.functions[usr] = fn
        callee_refs, function_refs = set(), []
        for c in cursor.walk_preorder():
            kind = c.kind.name
            if kind == "CALL_EXPR":
                fn.calls.append(self.call_of(c))
                ref = callee_ref(c)
                if ref is not None:
                    callee_refs.add(ref)
            elif kind == "DECL_REF_EXPR" and c.referenced is not None and c.referenced.kind.name == "FUNCTION_DECL":
                function_refs.append(c)
            elif kind == "VAR_DECL":
                self.record_local(c)
        for ref in function_refs:
            if ref not in callee_refs:
                self.ast.address_taken.add(ref.referenced.get_usr())

    def call_of(self, c) -> Call:
        target = c.referenced
        if target is None or target.kind.name != "FUNCTION_DECL":
            return Call(site_of(c), None, None, None)   # through a pointer: the caller's callback
        where = target.location.file
        return Call(site_of(c), target.spelling, target.get_usr(), os.path.realpath(where.name) if where else None)

    def record_local(self, c) -> None:
        storage = c.storage_class.name
        scope = "static" if storage == "STATIC" else "global" if storage == "EXTERN" else "local"
        var = variable_of(c, scope)
        if scope != "local" or var.variable_length:
            self.ast.variables.append(var)

    def scan_function_refs(self, cursor) -> None:
        for c in cursor.walk_preorder():
            if c.kind.name == "DECL_REF_EXPR" and c.referenced is not None and c.referenced.kind.name == "FUNCTION_DECL":
                self.ast.address_taken.add(c.referenced.get_usr())


def parse_core(files: CoreFiles, args: list) -> CoreAst:
    """Walks every source of the core as compiled with the libclang arguments args (see clang_args)."""
    return CoreWalker(files, args).parse()
