#!/usr/bin/env bash
# Long fuzzing campaigns: tests/fuzz/run.sh --minutes N [harness ...]   (default: every harness, 10 minutes each)
# Each harness starts from its committed seed corpus (tests/fuzz/corpus/<harness>); new inputs go to
# build/fuzz/corpus/<harness>, findings to build/fuzz/findings/<harness>/.  Copy a finding into
# tests/fuzz/crashes/<harness>/ once fixed: the suite replays every file there.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=10
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(cd tests/fuzz && python3 -c "from harnesses import all_names; print('\n'.join(all_names()))")
fi
for name in "${names[@]}"; do
  mkdir -p "build/fuzz/corpus/$name" "build/fuzz/findings/$name"
  cmd=$(cd tests/fuzz && python3 -c "import sys; from pathlib import Path; from harnesses import command; print(' '.join(command(sys.argv[1], Path('../../build/fuzz/bin').resolve())))" "$name")
  echo "== $name: $minutes min"
  # shellcheck disable=SC2086
  $cmd -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="build/fuzz/findings/$name/" "build/fuzz/corpus/$name" "tests/fuzz/corpus/$name" \
       2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|.*Test unit written)" || true
  echo "findings: $(ls "build/fuzz/findings/$name" | wc -l) in build/fuzz/findings/$name"
done
