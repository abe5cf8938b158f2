#!/usr/bin/env bash
# User-space instructions per poll of the pollers in benches/poll_cpu.rs, under callgrind.
#
#   benches/poll_instructions.sh [POLLERS]     (default: hand-written,watch,tracker; needs valgrind)
#
# CPU time on a shared machine moves by a few percent from run to run, more than most single
# changes to the poll path; instruction counts do not. Each poller runs twice, with SMALL and
# LARGE tasks (default 1000 and 2000, one round): the difference in instructions over the
# difference in polls is the cost of a poll, with start-up (definitions, TLS roots, the sandbox's
# start) cancelled out. The sandbox is its own process and is not counted. Counted: every thread
# of this process, so the tracker's count includes sqlx's SQLite thread, and also the
# registration of its tasks (one insert per task, that is per three polls), which its CPU
# measure leaves out. Instructions are not time (cache misses and kernel time are not in them):
# `cargo bench --bench poll_cpu` stays the measure of record.
set -euo pipefail

cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
  echo "needs valgrind (apt-get install valgrind)" >&2
  exit 2
}
pollers=${1:-hand-written,watch,tracker}
small=${SMALL:-1000}
large=${LARGE:-2000}
bin=$(cargo bench --bench poll_cpu --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$bin" ] || {
  echo "cannot find the poll_cpu bench's executable" >&2
  exit 1
}

# Prints "INSTRUCTIONS POLLS" for one run over TASKS tasks ($1) of POLLER ($2).
measure() {
  local out
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" 1 "$2" 2>&1)
  local refs polls
  refs=$(sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' <<<"$out" | tr -d ,)
  polls=$(awk -v p="$2" '$1 == "1" && $2 == p { print $3 }' <<<"$out")
  [ -n "$refs" ] && [ -n "$polls" ] || {
    echo "no count for $2:" >&2
    echo "$out" | tail -20 >&2
    exit 1
  }
  echo "$refs $polls"
}

printf '%-14s %22s\n' poller "instructions per poll"
for poller in ${pollers//,/ }; do
  counted=$(measure "$small" "$poller")
  read -r small_refs small_polls <<<"$counted"
  counted=$(measure "$large" "$poller")
  read -r large_refs large_polls <<<"$counted"
  printf '%-14s %22d\n' "$poller" $(((large_refs - small_refs) / (large_polls - small_polls)))
done
