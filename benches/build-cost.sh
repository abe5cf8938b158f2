#!/usr/bin/env bash
# The compile time generated code adds per provider: builds the library with the 4 seed
# providers, then with 100 (synthetic copies of the seeds, each with its own id), alternating,
# and reports the median of each and the cost per added provider.
#
#   benches/build-cost.sh [ROUNDS] [PROFILE]     (default: 3 rounds, the dev profile)
#
# It works on a copy of the sources in a temporary folder, with its own target folder whose
# dependencies are built once first, so only unitask itself (build.rs + the crate) is timed.
set -euo pipefail

cd "$(dirname "$0")/.."
rounds=${1:-3}
profile=${2:-dev}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git ls-files -z | xargs -0 -I{} cp --parents {} "$work/" 2>/dev/null || rsync -a --exclude target ./ "$work/"
cp -r providers "$work/seeds"
export CARGO_TARGET_DIR="$work/target"
cd "$work"

providers() {
  rm -f providers/*.yaml
  local n=$1
  if [ "$n" -le 4 ]; then
    cp seeds/*.yaml providers/
    return
  fi
  local seeds=(seeds/*.yaml) i=0
  while [ "$i" -lt "$n" ]; do
    local seed=${seeds[$((i % ${#seeds[@]}))]}
    local id
    id="$(basename "$seed" .yaml)-$i"
    sed "s/^id: .*/id: $id/" "$seed" >"providers/$id.yaml"
    i=$((i + 1))
  done
}

build() {
  cargo build --profile "$profile" --lib --quiet 2>&1
}

providers 4
echo "building dependencies once ($profile profile)..." >&2
build
generated() { wc -l <"$(ls -t "$CARGO_TARGET_DIR"/*/build/unitask-*/out/providers.rs | head -1)"; }

declare -A times
lines=()
for round in $(seq "$rounds"); do
  for n in 4 100; do
    providers "$n"
    start=$(date +%s.%N)
    build
    end=$(date +%s.%N)
    t=$(awk "BEGIN{printf \"%.2f\", $end - $start}")
    times[$n]="${times[$n]:-} $t"
    lines[$n]=$(generated)
    echo "round $round: $n providers built in ${t}s (${lines[$n]} generated lines)" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m4=$(median <<<"${times[4]}")
m100=$(median <<<"${times[100]}")
per=$(awk "BEGIN{printf \"%.3f\", ($m100 - $m4) / 96}")
echo
echo "profile $profile, $rounds rounds, median wall time of building unitask (build.rs + crate):"
echo "  4 providers:   ${m4}s  (${lines[4]} generated lines)"
echo "  100 providers: ${m100}s  (${lines[100]} generated lines)"
echo "  per added provider: ${per}s"
