#!/usr/bin/env bash
# kubectl aios dashboard in a real browser: headless Chromium (Debian's chromium, driven
# by playwright-core from npm, pinned and cached under /var/cache/aios) loads the page
# while a job trains; the job's loss curve gains points, its phase reaches Succeeded, and
# the page reconnects after the dashboard restarts (tests/e2e/dashboard_browser.mjs).
# Screenshots are kept in $AIOS_E2E_OUT (default /tmp/aios-e2e-out).
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
PLAYWRIGHT=1.65.2
NPM_DIR="${AIOS_CACHE:-/var/cache/aios}/npm/playwright-core-$PLAYWRIGHT"
[[ -x /usr/bin/chromium ]] || fail "no /usr/bin/chromium (scripts/install-deps.sh installs Debian's chromium)"
command -v npm >/dev/null && command -v node >/dev/null || fail "node and npm are needed (the machine's Node.js 20)"
if [[ ! -f "$NPM_DIR/node_modules/playwright-core/package.json" ]]; then
  mkdir -p "$NPM_DIR"
  npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" "playwright-core@$PLAYWRIGHT" >/dev/null 2>&1 \
    || fail "npm install playwright-core@$PLAYWRIGHT failed"
fi
OUT="${AIOS_E2E_OUT:-/tmp/aios-e2e-out}/dashboard"
mkdir -p "$OUT"
setup_ns
models_claim
# 150,000 epochs: 10-20 s of training, one log line per epoch
long_job dash-e2e 150000 50000 pvc://models/dash.aios
cp "$E2E_ROOT/dashboard_browser.mjs" "$NPM_DIR/" # resolves playwright-core from there
KUBECONFIG="$KUBECONFIG" node "$NPM_DIR/dashboard_browser.mjs" "$AIOS_BUILD_DIR/src/cli/kubectl-aios" "$NS" dash-e2e "$OUT" \
  || fail "the dashboard's browser checks failed"
note "screenshots in $OUT"
exit 0
