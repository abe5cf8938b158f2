#!/usr/bin/env bash
# Watch throughput and memory, side by side with a plain HTTP load generator, against the same
# sandbox on this machine.
#
#   benches/watch.sh [TASKS...]        (default: 1000 10000)
#
# For each count it writes a `--from` list of sandbox tasks spread over every seed provider's
# scenarios, runs `unitask watch --from` with no wait between polls, and reads the requests per
# second from its summary and the peak resident memory from /usr/bin/time. Then wrk (installed
# with apt-get when missing) loads one sandbox endpoint with the same number of connections.
# Memory per task is the growth of peak memory between two counts, divided by the tasks added.
set -euo pipefail

cd "$(dirname "$0")/.."
counts=("${@:-1000 10000}")
read -r -a counts <<<"${counts[*]}"
concurrency=${CONCURRENCY:-64}
duration=${WRK_SECONDS:-10}
work=$(mktemp -d)
trap 'kill "${sandbox_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

need() {
  command -v "$1" >/dev/null 2>&1 && return
  echo "installing $2 with apt-get" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -q "$2" >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null 2>&1
    $sudo apt-get install -y -q "$2" >/dev/null
  }
}
need wrk wrk
[ -x /usr/bin/time ] || need /usr/bin/time time

cargo build --release --quiet
bin=target/release/unitask

"$bin" sandbox --port 0 --quiet >"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/sandbox.log" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/sandbox.log" | head -1)
[ -n "$url" ] || { echo "the sandbox did not start" >&2; exit 1; }

export HUBSPOT_ACCESS_TOKEN=bench SHOPLAZZA_ACCESS_TOKEN=bench SMH_ACCESS_TOKEN=bench CHURCH_TECH_API_KEY=bench

# provider,scenario,inputs: the scenarios of the seed providers, in turn.
scenarios=(
  "hubspot,import-succeeds,"
  "hubspot,import-fails,"
  "shoplazza,upload-completes,"
  "shoplazza,upload-partially-fails,"
  "tencent-smh,multipart-upload-confirmed,,library_id=smh0123456789abc"
  "church-tech,upload-processed,"
)

printf '%-8s %-12s %-10s %-10s %-12s %-10s\n' tasks requests seconds "req/s" "peak RSS" exit
declare -A peak
for count in "${counts[@]}"; do
  list="$work/tasks-$count.csv"
  : >"$list"
  for i in $(seq 1 "$count"); do
    IFS=, read -r provider scenario _ params <<<"${scenarios[$((i % ${#scenarios[@]}))]}"
    echo "$provider,$scenario-$((count * 10 + i))${params:+,$params}" >>"$list"
  done
  set +e
  /usr/bin/time -f "%M" -o "$work/rss-$count" "$bin" watch --from "$list" --json \
    --interval 0s --concurrency "$concurrency" --base-url "$url/{provider}" \
    >"$work/events-$count.jsonl" 2>"$work/watch-$count.err"
  code=$?
  set -e
  summary=$(tail -1 "$work/events-$count.jsonl")
  requests=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$summary")
  elapsed=$(sed -n 's/.*"elapsed_ms":\([0-9]*\).*/\1/p' <<<"$summary")
  rps=$(sed -n 's/.*"requests_per_second":\([0-9]*\).*/\1/p' <<<"$summary")
  done_lines=$(grep -c '"event":"done"' "$work/events-$count.jsonl" || true)
  unique=$(grep '"event":"done"' "$work/events-$count.jsonl" | sed -n 's/.*"task_id":"\([^"]*\)".*/\1/p' | sort -u | wc -l)
  rss=$(tail -1 "$work/rss-$count")
  peak[$count]=$rss
  printf '%-8s %-12s %-10s %-10s %-12s %-10s\n' "$count" "$requests" "$(awk "BEGIN{print $elapsed/1000}")" "$rps" "${rss} KiB" "$code"
  if [ "$done_lines" != "$count" ] || [ "$unique" != "$count" ]; then
    echo "  accounting: $done_lines done lines, $unique distinct tasks, for $count tasks" >&2
    exit 1
  fi
done

if [ "${#counts[@]}" -ge 2 ]; then
  first=${counts[0]}
  last=${counts[-1]}
  per_task=$(awk "BEGIN{printf \"%.2f\", (${peak[$last]} - ${peak[$first]}) / ($last - $first)}")
  echo "peak memory per watched task: $per_task KiB ((${peak[$last]} - ${peak[$first]}) KiB / ($last - $first) tasks)"
fi

endpoint="$url/hubspot/files/v3/files/import-from-url/async/tasks/import-succeeds-1/status"
echo
echo "wrk -t2 -c$concurrency -d${duration}s against $endpoint"
wrk -t2 -c"$concurrency" -d"${duration}s" -H "Authorization: Bearer bench" -H "Accept: application/json" "$endpoint" | tee "$work/wrk.txt"
if grep -q "Non-2xx" "$work/wrk.txt"; then
  echo "wrk got error answers: the endpoint or its headers are wrong" >&2
  exit 1
fi
wrk_rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
echo
echo "load generator: $wrk_rps req/s"
for count in "${counts[@]}"; do
  rps=$(tail -1 "$work/events-$count.jsonl" | sed -n 's/.*"requests_per_second":\([0-9]*\).*/\1/p')
  echo "watch of $count tasks: $rps req/s = $(awk "BEGIN{printf \"%.2f\", $rps / $wrk_rps}")x the load generator"
done
