"""The compiler's layout is its pipeline: each stage package imports only the shared foundation, the IR
and the stages before it (docs/architecture.md), so no import cycle can form between stages."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "compiler" / "edgec"
STAGES = ["ir", "frontends", "plan", "codegen", "build", "tools"]   # in pipeline order
FOUNDATION = {"errors", "escaping", "paths", "progress", "render", "targets"}   # used by every stage
DRIVERS = {"compile", "cli"}   # the top: may import anything


def edgec_imports(path: Path) -> set:
    """The edgec modules a file imports (module level and inside functions), as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "edgec":
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "edgec")
    return names


def group(module: str) -> str:
    """The stage, "foundation" or "driver" a dotted edgec module belongs to."""
    part = module.split(".")[1] if "." in module else ""
    if part in STAGES:
        return part
    if part in FOUNDATION or part in ("", "__init__"):   # "edgec" itself: __version__
        return "foundation"
    assert part in DRIVERS, f"{module} is in no stage: put it in one of {STAGES} or add it to FOUNDATION"
    return "driver"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def test_every_module_is_in_a_stage_or_the_foundation():
    for path in PACKAGE.rglob("*.py"):
        group(module_name(path))


def test_stages_import_only_earlier_stages():
    rank = {s: i for i, s in enumerate(STAGES)}
    for path in PACKAGE.rglob("*.py"):
        here = group(module_name(path))
        for imported in edgec_imports(path):
            there = group(imported)
            if here == "driver" or there == "foundation":
                continue
            assert there != "driver", f"{path.name} imports the driver {imported}"
            if here == "foundation":
                assert there == "ir", f"foundation module {path.name} imports the stage module {imported}"
                continue
            assert rank[there] <= rank[here], f"{path.relative_to(PACKAGE)} ({here}) imports {imported} ({there}), a later stage"


def test_tiny_models_are_test_code():
    assert not (PACKAGE / "tiny_models.py").exists()
    assert (Path(__file__).parent / "tiny_models.py").is_file()
