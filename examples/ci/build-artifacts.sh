#!/usr/bin/env bash
# Builds release artifacts for one or more targets, as a CI job does (examples/ci/github-actions.yml runs it
# once per matrix target; tests/targets/test_build_artifacts.py runs it for two targets):
#   1. edgec compile MODEL --target T1,T2,...   one artifact folder and one tarball per target, summary.json
#   2. a smoke test of each program under its emulator (edgec run: qemu-user for cross targets)
#   3. edgec verify of each tarball (every file's sha256 against its manifest and SBOM)
#   4. DIST/: the tarballs, summary.json and SHA256SUMS, ready to upload
# Usage: examples/ci/build-artifacts.sh MODEL TARGETS DIST [-- extra edgec compile flags]
#   MODEL    a model file or a known name (smollm2-135m)
#   TARGETS  comma-separated target names, or all-linux
#   DIST     output folder (created; the artifact folders go to DIST/build/)
# Environment: SMOKE_PROMPT (default "The capital of France is"), SMOKE_TOKENS (default 8),
# SOURCE_DATE_EPOCH (passed through: the timestamp inside the tarballs).
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 MODEL TARGETS DIST [-- extra edgec compile flags]" >&2
  exit 2
fi
model=$1 targets=$2 dist=$3
shift 3
[ "${1:-}" = "--" ] && shift
extra=("$@")
prompt=${SMOKE_PROMPT:-The capital of France is}
tokens=${SMOKE_TOKENS:-8}
edgec=(edgec)
command -v edgec >/dev/null 2>&1 || edgec=(python3 -m edgec.cli)

mkdir -p "$dist/build"
status=0
"${edgec[@]}" compile "$model" --target "$targets" --out "$dist/build" --summary-json "$dist/summary.json" \
  "${extra[@]}" || status=$?   # a failed target is a row of the summary; the others are still shipped

# each built target: smoke test under its emulator, then verify its tarball and copy it to DIST
python3 - "$dist/summary.json" > "$dist/built.txt" <<'PY'
import json, sys
for o in json.load(open(sys.argv[1])):
    if o["status"] == "built":
        print(o["out_dir"])
PY
: > "$dist/SHA256SUMS.tmp"
while IFS= read -r art; do
  name=$(basename -- "$art")
  echo "== $name: smoke test"
  if ! "${edgec[@]}" run "$art" -p "$prompt" -n "$tokens" -t 0 > "$dist/$name.smoke.txt"; then
    echo "$name: the program failed its smoke test (output in $dist/$name.smoke.txt)" >&2
    status=1
    continue
  fi
  echo "== $name: verify"
  "${edgec[@]}" verify "$art.tar.gz" || { status=1; continue; }
  cp -- "$art.tar.gz" "$dist/"
  (cd "$dist" && sha256sum -- "$name.tar.gz") >> "$dist/SHA256SUMS.tmp"
done < "$dist/built.txt"
rm -f -- "$dist/built.txt"
sort -k2 "$dist/SHA256SUMS.tmp" > "$dist/SHA256SUMS" && rm -f -- "$dist/SHA256SUMS.tmp"
exit "$status"
