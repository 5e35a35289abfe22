"""The license the SBOM names: GGUF's general.license (found past arrays of strings, and nothing but "unknown"
from a truncated or hostile header), a Hugging Face folder's config.json or README front matter, "unknown" for
llama2.c; and how the SBOM writes it (an SPDX id when it is one)."""
import json

import gguf
import pytest

from conftest import STORIES, smollm2_path
from edgec.release.model_license import model_license
from edgec.release.sbom import build_bom
from release_helpers import MANIFEST


def gguf_file(path, license_text=None, tokens=("a", "bb", "ccc")):
    """A GGUF header only (no tensors): an array of strings and a number before the license, as real files have."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_array("tokenizer.ggml.tokens", list(tokens))
    w.add_uint32("llama.block_count", 2)
    if license_text is not None:
        w.add_license(license_text)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_gguf_license_after_arrays(tmp_path):
    assert model_license(str(gguf_file(tmp_path / "m.gguf", "mit")), "gguf") == "mit"


def test_gguf_without_license_is_unknown(tmp_path):
    assert model_license(str(gguf_file(tmp_path / "m.gguf")), "gguf") == "unknown"


def test_truncated_gguf_is_unknown(tmp_path):
    path = gguf_file(tmp_path / "m.gguf", "mit", tokens=["tok"] * 1000)
    path.write_bytes(path.read_bytes()[:200])   # cut inside the token array
    assert model_license(str(path), "gguf") == "unknown"


def test_huge_array_count_does_not_hang(tmp_path):
    """A string array claiming 2^62 elements: stopped by the count check (or the end of the file), not walked."""
    path = gguf_file(tmp_path / "m.gguf", "mit", tokens=["t"])
    data = bytearray(path.read_bytes())
    at = data.index(b"tokenizer.ggml.tokens") + len("tokenizer.ggml.tokens") + 4 + 4   # key, value type, element type
    data[at:at + 8] = (1 << 62).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    assert model_license(str(path), "gguf") == "unknown"


def test_the_default_model_declares_apache(tmp_path):
    assert model_license(str(smollm2_path()), "gguf") == "apache-2.0"


def test_hf_folder_readme_and_config(tmp_path):
    (tmp_path / "README.md").write_text("---\nlanguage: en\nlicense: apache-2.0\n---\n# A model\nlicense: not this\n")
    assert model_license(str(tmp_path), "hf") == "apache-2.0"
    (tmp_path / "config.json").write_text(json.dumps({"license": "llama3"}))
    assert model_license(str(tmp_path), "hf") == "llama3"


@pytest.mark.parametrize("readme", ["# no front matter\nlicense: mit\n", "---\nlanguage: en\n---\nlicense: mit\n"])
def test_hf_folder_without_a_declared_license(tmp_path, readme):
    (tmp_path / "README.md").write_text(readme)
    assert model_license(str(tmp_path), "hf") == "unknown"


def test_llama2c_is_unknown():
    assert model_license(str(STORIES / "stories260K.bin"), "llama2c") == "unknown"


@pytest.mark.parametrize("declared, written", [
    ("apache-2.0", {"license": {"id": "Apache-2.0"}}),            # an SPDX id, in SPDX's spelling
    ("Apache-2.0 OR MIT", {"expression": "Apache-2.0 OR MIT"}),
    ("llama3", {"license": {"name": "llama3"}}),                   # not SPDX: kept as a name
])
def test_sbom_writes_the_license_as_spdx_when_it_is(declared, written):
    from cyclonedx.output.json import JsonV1Dot6
    bom = json.loads(JsonV1Dot6(build_bom(MANIFEST, "1" * 64, declared)).output_as_string())
    model = next(c for c in bom["components"] if c["bom-ref"] == "model")
    assert model["licenses"] == [written]
