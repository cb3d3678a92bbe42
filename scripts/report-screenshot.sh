#!/usr/bin/env bash
# Runs the quickstart drill on a local sandbox of its own, renders its report as HTML, and takes
# a headless Chromium screenshot of it: docs/report.png, the picture in the README.
#
#   scripts/report-screenshot.sh [OUTPUT.png]
#
# Needs Python 3 with venv (the sandbox installs moto the first time) and Chromium (on Debian:
# `apt-get install chromium`). No AWS account. The sandbox runs AWS's delays at time scale 0.01,
# so the drill's RTO target is scaled the same way (30m -> 18s) to be on the timeline's scale;
# the report is otherwise the run's own. Everything but the picture goes to a temporary
# directory, and the sandbox is stopped at the end.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/docs/report.png}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$chromium" ]; then
    echo "error: Chromium is not installed (Debian: apt-get install chromium; or set CHROMIUM)" >&2
    exit 2
fi

cd "$root"
cargo build --quiet
bin="${CARGO_TARGET_DIR:-$root/target}/debug/firedrill"

work="$(mktemp -d)"
state="$work/state"
cleanup() {
    "$bin" --state-dir "$state" sandbox stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The quickstart playbook with its RTO target at the sandbox's time scale (0.01), under the same
# relative path as in the repository (the report names the playbook by it).
playbook=examples/quickstart/playbook.yaml
mkdir -p "$work/$(dirname "$playbook")"
sed -e 's/^  rto: 30m$/  rto: 18s/' "$playbook" >"$work/$playbook"
grep -q '^  rto: 18s$' "$work/$playbook" || {
    echo "error: the quickstart's RTO target is no longer 30m; update this script" >&2
    exit 1
}

"$bin" --state-dir "$state" sandbox start --time-scale 0.01 --seed 7 >/dev/null
code=0
(cd "$work" && "$bin" --state-dir "$state" run --sandbox local \
    --seed "$root/examples/quickstart/seed.yaml" \
    --report html,markdown --report-dir "$work/reports" "$playbook") || code=$?
if [ ! -s "$work/reports/report.html" ]; then
    echo "error: the drill left no HTML report (exit $code)" >&2
    exit 1
fi
[ "$code" -eq 0 ] || echo "warning: the drill exited $code; taking the picture of its report anyway" >&2

mkdir -p "$(dirname "$out")"
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --hide-scrollbars \
    --screenshot="$out" --window-size=1200,900 "file://$work/reports/report.html" 2>/dev/null
[ -s "$out" ] || { echo "error: Chromium wrote no screenshot" >&2; exit 1; }
echo "screenshot of the report of $(sed -n 's/^# Drill \(.*\)$/\1/p' "$work/reports/report.md"): $out"
