#!/bin/bash
# The quick workflow, live and ingest benchmarks of two checkouts side by side, against the same
# servers, alternating. Usage (servers from `rdg stack up`, URLs in RDG_* as it prints them):
#   git worktree add /tmp/before <commit>
#   bash bench/before_after.sh /tmp/before .      # prints one JSON line per run
set -u
BEFORE=$(cd "$1" && pwd); AFTER=$(cd "$2" && pwd)
: "${RDG_NATS_URL:=nats://127.0.0.1:4222}" "${RDG_KAFKA_BOOTSTRAP:=127.0.0.1:9092}" "${RDG_GREMLIN_URL:=ws://127.0.0.1:8182/gremlin}"
export RDG_NATS_URL RDG_KAFKA_BOOTSTRAP RDG_GREMLIN_URL
PY=$AFTER/.venv/bin/python
run() { # label code cmd...
  local label=$1 code=$2; shift 2
  echo "== $label $(date +%T)" 
  (cd $code && PYTHONPATH=$code $PY "$@" 2>/dev/null | tail -1)
}
for round in 1 2; do
  run "workflow before r$round" $BEFORE bench/workflow.py --quick --json --nats $RDG_NATS_URL
  run "workflow after r$round" $AFTER bench/workflow.py --quick --json --nats $RDG_NATS_URL
done
run "live before" $BEFORE bench/live.py --quick --json
run "live after" $AFTER bench/live.py --quick --json
run "ingest before" $BEFORE bench/ingest.py --quick --json --kafka $RDG_KAFKA_BOOTSTRAP --gremlin-url $RDG_GREMLIN_URL
run "ingest after" $AFTER bench/ingest.py --quick --json --kafka $RDG_KAFKA_BOOTSTRAP --gremlin-url $RDG_GREMLIN_URL
echo "== done $(date +%T)"
