"""The release stage: what makes an artifact fit for a release pipeline (docs/artifacts.md, "Release").

model_license (what the model declares), sbom (sbom.cdx.json), tarball (<name>-<target>.tar.gz beside the
folder), seal (the calls compile.py makes after the build), verify_artifact (`edgec verify`). The build
environment that makes binaries reproducible is build/reproducible.py, used by the build stage."""
