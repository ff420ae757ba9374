#!/usr/bin/env bash
# Every CUDA path on one GPU, in under 8 minutes, into one JSON file:
#   1. the test suite's CUDA cases (the `device` fixture's cuda parameter),      cap 140 s
#   2. environment throughput on cuda at B = 4096 / 65536 / 1048576 (metarl bench), cap 110 s
#   3. RL² training steps/s at 4096 and 65536 parallel trials,                      cap 100 s
#   4. CPU-vs-CUDA trajectories: same seed, same actions, per-family differences,  cap 60 s
# Each part runs under `timeout` with its own cap; a part that fails or runs out of time is recorded as such
# (the JSON parts write their rows as they come, so a capped part keeps what it measured) and the others
# still run. Exits 2 at once, saying so, when torch sees no CUDA device.
#
# Usage: bash benchmarks/device_check.sh [OUTPUT_DIR]      (default bench-results/device_check)
#        PYTHON=/path/to/python bash benchmarks/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT=${1:-bench-results/device_check}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

if ! found=$("$PY" -c "import sys, torch; print('torch', torch.__version__, 'cuda build', torch.version.cuda)
sys.exit(0 if torch.cuda.is_available() else 1)" 2>&1); then
    echo "device_check: error: no CUDA device: $found sees none; run this on a machine with an NVIDIA GPU and a CUDA build of torch" >&2
    exit 2
fi
mkdir -p "$OUT"
began=$(date +%s)

# part NAME CAP_SECONDS COMMAND...: run under timeout, log to OUT/NAME.log, record exit code and seconds
part() {
    local name=$1 cap=$2 start rc
    shift 2
    start=$(date +%s)
    echo "== $name (cap ${cap} s): $*"
    timeout --kill-after=10 "$cap" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    printf '{"exit_code": %d, "seconds": %d, "cap_seconds": %d, "timed_out": %s}\n' \
        "$rc" "$(( $(date +%s) - start ))" "$cap" "$([ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo true || echo false)" \
        > "$OUT/$name.status.json"
    tail -n 25 "$OUT/$name.log"
    echo "== $name: exit $rc after $(( $(date +%s) - start )) s"
}

part cuda_tests 140 "$PY" -m pytest tests -q -k cuda -p no:cacheprovider --junitxml "$OUT/cuda_tests.xml"
part throughput 110 "$PY" -m metarl.cli bench --device cuda --sizes 4096 65536 1048576 --seconds 1 --budget 15 \
    --json "$OUT/throughput.json"
part rl2_training_speed 100 "$PY" benchmarks/rl2_training_speed.py --device cuda --sizes 4096 65536 --seconds 5 \
    --json "$OUT/rl2_training_speed.json"
part cpu_cuda_agreement 60 "$PY" benchmarks/cpu_cuda_agreement.py --devices cpu cuda --steps 200 \
    --json "$OUT/cpu_cuda_agreement.json"

"$PY" - "$OUT" "$began" <<'EOF'
import json, pathlib, sys, time, xml.etree.ElementTree as ET

out, began = pathlib.Path(sys.argv[1]), int(sys.argv[2])
combined = {"seconds": round(time.time() - began), "parts": {}}
for name in ("cuda_tests", "throughput", "rl2_training_speed", "cpu_cuda_agreement"):
    entry = json.loads((out / f"{name}.status.json").read_text())
    data = out / f"{name}.json"
    if data.exists():
        entry["result"] = json.loads(data.read_text())
    if name == "cuda_tests" and (out / "cuda_tests.xml").exists():
        suite = ET.parse(out / "cuda_tests.xml").getroot().find("testsuite")
        entry["result"] = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    combined["parts"][name] = entry
combined["all_parts_passed"] = all(p["exit_code"] == 0 for p in combined["parts"].values())
(out / "device_check.json").write_text(json.dumps(combined, indent=2))
print(f"wrote {out / 'device_check.json'} after {combined['seconds']} s; all parts passed: {combined['all_parts_passed']}")
sys.exit(0 if combined["all_parts_passed"] else 1)
EOF
