#!/usr/bin/env bash
# A real Prometheus (Debian's /usr/bin/prometheus) scrapes the cluster's aios-operator
# (the local process scripts/cluster.sh starts, metrics on 127.0.0.1:18080) and an
# inference pod of a ModelService (its pod IP on aios-node's bridge, port 8080: the host
# reaches pod IPs). Prometheus runs on a free loopback port with a temporary config and
# storage, scraping every second, and is killed at the end. Asserted through its HTTP API:
# up == 1 for both targets, and aios_operator_* and aios_serve_* series were ingested
# (among them the ones operations.md documents).
# E2E_LIMIT=360
source "$(dirname "$0")/lib.sh"
PROM=/usr/bin/prometheus
OPERATOR_METRICS="${AIOS_OPERATOR_METRICS:-127.0.0.1:18080}"
[[ -x "$PROM" ]] || fail "$PROM is missing (Debian package prometheus: scripts/install-deps.sh)"
setup_ns
work="$(mktemp -d /tmp/aios-e2e-prom.XXXXXX)"
prom_pid=""
cleanup() {
  if [[ -n "$prom_pid" ]]; then kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

# (the page is read whole before grep: `curl | grep -q` under pipefail fails at random when
# grep exits at the first match and curl, still writing, gets SIGPIPE)
page="$(curl -sf --max-time 5 "http://$OPERATOR_METRICS/metrics" || true)"
grep -q '^aios_operator_' <<<"$page" \
  || fail "the operator's metrics endpoint http://$OPERATOR_METRICS/metrics does not answer"

# something to serve: the seed example
models_claim
kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
kn apply -f "$E2E_ROOT/../../examples/modelservice-linear.yaml" >/dev/null
wait_until "modelservice linear Ready" 240 phase_is modelservice/linear Ready
pod_ip() {
  kn get pods -l aios.dev/service=linear \
    -o 'jsonpath={range .items[?(@.status.phase=="Running")]}{.status.podIP}{"\n"}{end}' | head -1
}
ip="$(pod_ip)"
[[ "$ip" =~ ^[0-9.]+$ ]] || fail "no running inference pod IP for modelservice linear: '$ip'"
wait_until "the inference pod's /metrics at $ip:8080" 30 curl -sf --max-time 2 "http://$ip:8080/metrics"
note "inference pod at $ip:8080, operator at $OPERATOR_METRICS"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 5s}
scrape_configs:
  - job_name: aios-operator
    static_configs: [{targets: ["$OPERATOR_METRICS"]}]
  - job_name: aios-serve
    static_configs: [{targets: ["$ip:8080"], labels: {namespace: "$NS", service: linear}}]
YAML
"$PROM" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=1h \
  > "$work/prometheus.log" 2>&1 &
prom_pid=$!
api="http://127.0.0.1:$port/api/v1"
wait_until "prometheus ready on 127.0.0.1:$port" 60 curl -sf --max-time 2 "http://127.0.0.1:$port/-/ready"

# query PROMQL: the first sample value of an instant query ("" when there is none)
query() {
  curl -sf --max-time 5 --get --data-urlencode "query=$1" "$api/query" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
is_one() { [[ "$(query "$1")" == 1 ]]; }
# some traffic, so the request histograms hold samples
for _ in 1 2 3; do predict linear 5 >/dev/null || true; done
wait_until 'up{job="aios-operator"} == 1' 60 is_one 'up{job="aios-operator"}'
wait_until 'up{job="aios-serve"} == 1' 60 is_one 'up{job="aios-serve"}'
has_series() { local n; n="$(query "$1")"; [[ -n "$n" && "$n" != 0 ]]; }
wait_until "aios_operator_* series" 30 has_series 'count({job="aios-operator",__name__=~"aios_operator_.+"})'
wait_until "aios_serve_* series" 30 has_series 'count({job="aios-serve",__name__=~"aios_serve_.+"})'
for s in aios_operator_reconcile_total aios_operator_workqueue_depth aios_operator_leader \
  aios_serve_requests_in_flight aios_serve_request_duration_seconds_bucket; do
  has_series "count($s)" || fail "prometheus has no series $s"
done
# no scrape complaint about either target
targets="$(curl -sf --max-time 5 "$api/targets")" || fail "GET $api/targets failed"
python3 - "$targets" <<'PY' || fail "a target is not healthy: $targets"
import json, sys
t = json.loads(sys.argv[1])["data"]["activeTargets"]
jobs = {x["labels"]["job"]: x for x in t}
for j in ("aios-operator", "aios-serve"):
    x = jobs[j]
    assert x["health"] == "up" and not x["lastError"], (j, x["health"], x["lastError"])
PY
note "operator series: $(query 'count({job="aios-operator",__name__=~"aios_operator_.+"})'), serve series: $(query 'count({job="aios-serve",__name__=~"aios_serve_.+"})')"
exit 0
