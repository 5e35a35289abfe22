"""The compiler's layout is its pipeline: each stage package imports only the shared foundation, the IR
and the stages before it (docs/architecture.md), so no import cycle can form between stages."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "compiler" / "edgec"
STAGES = ["ir", "frontends", "plan", "grammar", "codegen", "build", "tools", "verify", "release"]   # in pipeline order
FOUNDATION = {"errors", "escaping", "paths", "progress", "render", "targets"}   # used by every stage
DRIVERS = {"compile", "compile_many", "cli"}   # the top: may import anything


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


RUNTIME = PACKAGE.parents[1] / "runtime"
KERNELS = RUNTIME / "core" / "kernels"


def test_tests_mirror_the_layout():
    """Each compiler stage and runtime part has its own test folder (README's layout section)."""
    tests = Path(__file__).parent
    for folder in STAGES + ["kernels", "formats", "runtime", "server", "fuzz", "mcu"]:
        assert list((tests / folder).glob("test_*.py")), f"tests/{folder}/ has no tests"
    assert not [p.name for p in tests.glob("test_*.py") if p.stem not in
                ("test_layout", "test_cli", "test_compile_tiny", "test_real_models", "test_arm_targets")], \
        "only whole-pipeline tests live at the top of tests/: put the others in their stage's folder"


def test_kernels_are_a_family_by_isa_matrix():
    """Every ISA folder has a file per family it implements and the vector layer; no per-ISA driver copies."""
    families = {"dense", "lowbit", "ternary", "i16", "ternary_i16", "lut"}
    helpers = {"vec", "float", "a32"}   # the vector layer, float kernels over it, arm/neon's ARMv7 shims
    for isa in ("x86/avx2", "x86/avx512", "arm/neon", "x86/ssse3", "riscv/rvv"):
        files = {p.stem for p in (KERNELS / isa).glob("*.h")}
        assert "dense" in files and ({"vec", "float"} <= files or isa == "riscv/rvv"), isa   # RVV: length-agnostic loops
        assert files - helpers <= families, f"{isa}: {sorted(files - families)} is not a weight family"
        # RVV's vector types are sizeless: they cannot fill the driver's accumulator arrays, so its dense
        # file strip-mines rows itself (vsetvl loops)
        for fam in sorted({"dense", "lowbit", "ternary"} & files - ({"dense"} if isa == "riscv/rvv" else set())):
            text = (KERNELS / isa / f"{fam}.h").read_text()
            assert '#include "kernels/tiled_matmul.h"' in text, f"{isa}/{fam}.h must instantiate tiled_matmul.h"
            assert "for (int t = 0; t < n_tok" not in text, f"{isa}/{fam}.h has its own token loop"
    assert {p.stem for p in (KERNELS / "scalar").glob("*.h")} == families
