#!/bin/bash
# The JupyterLab and Voila browser tests 20 times in a row while two busy loops load both cores: a browser test must never flake.
# Usage: bash scripts/repeat_under_load.sh [RUNS]   (failing runs keep their screenshots in /tmp/browser_fail_N)
cd "$(dirname "$0")/.."
python3 -c 'while True: pass' & L1=$!
python3 -c 'while True: pass' & L2=$!
pass=0
runs=${1:-20}
for i in $(seq 1 "$runs"); do
  if timeout 900 .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_browser.py tests/test_browser_calculators.py > "/tmp/browser_run_$i.log" 2>&1; then pass=$((pass+1)); echo "run $i pass"; else echo "run $i FAIL"; mkdir -p "/tmp/browser_fail_$i"; cp -r test-artifacts/* "/tmp/browser_fail_$i/"; fi
done
kill $L1 $L2
echo "passed $pass/$runs"
