#!/usr/bin/env bash
# make demo: start both emulators seeded from the corpus, plan, apply, and
# plan again to show that nothing is left to do. Everything runs on loopback.
set -euo pipefail
cd "$(dirname "$0")"
bin=../../bin/bellsync
ghl_addr=127.0.0.1:${DEMO_GHL_PORT:-18711}
pb_addr=127.0.0.1:${DEMO_PAPERBELL_PORT:-18712}
work=$(mktemp -d)
trap 'kill "$emu" 2>/dev/null || true; wait "$emu" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" emulate -seed seed -ghl-addr "$ghl_addr" -paperbell-addr "$pb_addr" -paperbell-rate-limit 6000 >"$work/emulate.log" 2>&1 &
emu=$!
for _ in $(seq 1 100); do
  grep -q "Serving until interrupted" "$work/emulate.log" 2>/dev/null && break
  kill -0 "$emu" 2>/dev/null || { cat "$work/emulate.log"; exit 1; }
  sleep 0.1
done
cat "$work/emulate.log"

export GHL_BASE_URL=http://$ghl_addr GHL_LOCATION_ID=LOCbellsyncCorpus001 GHL_TOKEN=ghl-emulator-token
export PAPERBELL_BASE_URL=http://$pb_addr PAPERBELL_API_KEY=paperbell-emulator-key
export BELLSYNC_STATE=$work/state.db

echo
echo "=== bellsync validate"
"$bin" validate -config sync.hcl
echo
echo "=== bellsync plan -out demo.plan (the first 60 lines, then the summary)"
"$bin" plan -config sync.hcl -out "$work/demo.plan" >"$work/plan.txt"
head -n 60 "$work/plan.txt"
echo "   ... ($(wc -l <"$work/plan.txt") lines in all)"
sed -n '/^Records that cannot be synced/,/^Plan:/p' "$work/plan.txt"
echo
echo "=== bellsync apply demo.plan"
"$bin" apply -config sync.hcl "$work/demo.plan"
echo
echo "=== bellsync plan -detailed-exitcode (expect: no changes)"
set +e
"$bin" plan -config sync.hcl -detailed-exitcode >"$work/plan2.txt"
code=$?
set -e
grep -v "^  ! " "$work/plan2.txt" | tail -n 5
if [ "$code" -ne 0 ]; then
  echo "demo: the second plan was not empty (exit $code)" >&2
  exit 1
fi
echo
echo "Demo done: the second plan has no changes."
