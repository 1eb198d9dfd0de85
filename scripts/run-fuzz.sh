#!/usr/bin/env bash
# Runs every libFuzzer target of build/fuzz: first its committed crash regressions
# (tests/fuzz/regressions/NAME, each must now pass), then SECONDS of fuzzing from its seed corpus
# (tests/fuzz/corpus/NAME; new inputs go to build/fuzz/corpus/NAME, not committed). A crash stops
# with the path of the input that caused it: commit it under tests/fuzz/regressions/NAME.
# Usage: scripts/run-fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build="$1"
seconds="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
targets=(fuzz_safetensors fuzz_config fuzz_tokenizer_json fuzz_tokenizer_model fuzz_llama2c
         fuzz_request fuzz_chat_template)
summary=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  regressions="$root/tests/fuzz/regressions/$t"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    "$bin" -runs=0 "$regressions"/* >/dev/null 2>"$build/$t.replay.log" || {
      echo "run-fuzz: $t fails a committed regression:"; tail -30 "$build/$t.replay.log"; exit 1; }
  fi
  work="$build/corpus/$t"
  crashes="$build/crashes/$t"
  mkdir -p "$work" "$crashes"
  log="$build/$t.log"
  echo "== $t: ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$crashes/" "$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "run-fuzz: $t crashed; the input is in $crashes:"
    ls "$crashes"
    tail -40 "$log"
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  summary+=("$t: $runs executions in ${seconds}s, no crash")
done
printf '%s\n' "${summary[@]}"
