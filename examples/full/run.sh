#!/usr/bin/env bash
# make demo-full: the full mission (examples/full/sync.hcl) on both emulators
# seeded from the corpus: validate, plan, apply, then edit one Paperbell
# client through the emulator's HTTP API, plan again to see exactly that
# change and the sync.hcl line behind it, apply, and show that a final plan
# is empty. Everything runs on loopback.
set -euo pipefail
cd "$(dirname "$0")"
bin=../../bin/bellsync
seed=../demo/seed
ghl_addr=127.0.0.1:${DEMO_GHL_PORT:-18721}
pb_addr=127.0.0.1:${DEMO_PAPERBELL_PORT:-18722}
work=$(mktemp -d)
emu=
trap '[ -n "$emu" ] && { kill "$emu" 2>/dev/null || true; wait "$emu" 2>/dev/null || true; }; rm -rf "$work"' EXIT

# The emulators and bellsync's own client-side limits are raised: the
# corpus is ~2,000 writes, and the real APIs' limits would make this take
# minutes.
"$bin" emulate -seed "$seed" -ghl-addr "$ghl_addr" -paperbell-addr "$pb_addr" \
  -ghl-rate-limit 100000 -paperbell-rate-limit -1 >"$work/emulate.log" 2>&1 &
emu=$!
for _ in $(seq 1 100); do
  grep -q "Serving until interrupted" "$work/emulate.log" 2>/dev/null && break
  kill -0 "$emu" 2>/dev/null || { cat "$work/emulate.log"; exit 1; }
  sleep 0.1
done
cat "$work/emulate.log"

export GHL_BASE_URL=http://$ghl_addr GHL_LOCATION_ID=LOCbellsyncCorpus001 GHL_TOKEN=ghl-emulator-token
export PAPERBELL_BASE_URL=http://$pb_addr PAPERBELL_API_KEY=paperbell-emulator-key
export GHL_RATE_LIMIT=100000 PAPERBELL_RATE_LIMIT=1000000
export BELLSYNC_STATE=$work/state.db

# plan_changes FILE: the plan without the per-record problems (the corpus's
# invalid emails and ambiguous duplicates, reported on every plan).
plan_changes() { sed '/^Records that cannot be synced/,/^$/d' "$1"; }

echo
echo "=== bellsync validate"
"$bin" validate -config sync.hcl
echo
echo "=== bellsync plan (the first 40 lines, then the summary)"
"$bin" plan -config sync.hcl -no-color >"$work/plan.txt"
head -n 40 "$work/plan.txt"
echo "   ... ($(wc -l <"$work/plan.txt") lines in all)"
sed -n '/^Records that cannot be synced/,/^Plan:/p' "$work/plan.txt"
echo
echo "=== bellsync apply -auto-approve (summary)"
"$bin" apply -config sync.hcl -auto-approve -no-color >"$work/apply.txt"
tail -n 1 "$work/apply.txt"
echo
echo "=== bellsync plan -detailed-exitcode (expect: no changes)"
set +e
"$bin" plan -config sync.hcl -detailed-exitcode -no-color >"$work/plan2.txt"
code=$?
set -e
tail -n 1 "$work/plan2.txt"
if [ "$code" -ne 0 ]; then
  echo "demo-full: the plan after apply was not empty (exit $code)" >&2
  exit 1
fi

client=65632411 # Andrew Goodman, in both systems in the corpus
echo
echo "=== edit Paperbell client $client through the API: first_name = \"Andy\""
curl -fsS -X PATCH "$PAPERBELL_BASE_URL/clients/$client" \
  -H "Authorization: Bearer $PAPERBELL_API_KEY" -H "Content-Type: application/json" \
  -d '{"first_name": "Andy"}'
echo
echo
echo "=== bellsync plan (expect exactly that change, with the sync.hcl line behind it)"
set +e
"$bin" plan -config sync.hcl -detailed-exitcode -no-color >"$work/plan3.txt"
code=$?
set -e
plan_changes "$work/plan3.txt"
if [ "$code" -ne 2 ] || ! grep -q "Plan: 0 to create, 1 to update, 0 to link" "$work/plan3.txt"; then
  echo "demo-full: want exactly one update after the edit (exit $code)" >&2
  exit 1
fi
echo
echo "=== bellsync apply -auto-approve (summary)"
"$bin" apply -config sync.hcl -auto-approve -no-color >"$work/apply2.txt"
tail -n 1 "$work/apply2.txt"
echo
echo "=== bellsync plan -detailed-exitcode (expect: no changes)"
set +e
"$bin" plan -config sync.hcl -detailed-exitcode -no-color >"$work/plan4.txt"
code=$?
set -e
tail -n 1 "$work/plan4.txt"
if [ "$code" -ne 0 ]; then
  echo "demo-full: the final plan was not empty (exit $code)" >&2
  exit 1
fi
echo
echo "Demo done: the edit in Paperbell reached GHL, and the final plan has no changes."
