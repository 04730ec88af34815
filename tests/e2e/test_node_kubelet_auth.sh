#!/usr/bin/env bash
# aios-node's kubelet port (10250 on the bridge address) serves a pod's logs only to
# whom a kubelet in Webhook mode would (docs/node.md, "The kubelet port"): `kubectl logs`
# works through the API server, which presents its kubelet client certificate
# (scripts/cluster.sh make_node_pki) and verifies the port's certificate; a direct
# request without credentials is 401, a certificate of the cluster's CA fails the
# handshake, a certificate of the node CA for a user without rights is 403, an admin's
# bearer token is let in (TokenReview + SubjectAccessReview). A pod on the bridge is
# refused, anonymously (401) and with its ServiceAccount token (403), and never sees
# the other pod's line. /healthz on that port is authorized as every other path (as on
# a kubelet's 10250); the open one is the healthz port, 127.0.0.1:10248. Oversized
# headers and tokens are refused with their limits and leave the port serving;
# `kubectl exec` (not implemented by aios-node) fails with the port's 404, not an
# authorization error.
# E2E_LIMIT=150
source "$(dirname "$0")/lib.sh"
[[ "${AIOS_E2E_NODE:-aios-node}" == aios-node ]] || fail "this test is about aios-node's kubelet port"
setup_ns
work="$(mktemp -d /tmp/aios-e2e-kauth.XXXXXX)"
trap 'k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

NODE_IP=10.244.0.1
PKI="$AIOS_CLUSTER_DIR/node-pki"
API_PKI="$AIOS_CLUSTER_DIR/api/pki"
[[ -f "$PKI/ca.crt" && -f "$PKI/apiserver-kubelet-client.crt" ]] || fail "no kubelet port PKI in $PKI (scripts/cluster.sh make_node_pki)"
secret="kauth-secret-$RANDOM$RANDOM"
logs_url="https://$NODE_IP:10250/containerLogs/$NS/victim/c"

# the ServiceAccount admission plugin needs the token secret before a pod can be made
wait_until "the token secret of $NS/default" 60 bash -c "[[ -n \$('$KBIN/kubectl' -n $NS get sa default -o 'jsonpath={.secrets[0].name}') ]]"

kn apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: victim}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: aios/trainer:e2e
    command: [sh, -c, 'echo "$secret"; exec sleep 600']
YAML
# it keeps running, so that kubectl exec has a running container to ask for
wait_until "pod victim Running" 60 phase_is pod/victim Running
wait_until "the line in victim's log" 30 bash -c "'$KBIN/kubectl' -n $NS logs victim | grep -qxF '$secret'"

# --- through the API server: its client certificate, verified both ways --------------
out="$(kn logs victim 2>&1)" || fail "kubectl logs victim failed: $out"
grep -qxF "$secret" <<<"$out" || fail "kubectl logs victim did not show its line: $out"
note "kubectl logs through the API server: '$out'"

# --- straight to the port from the host -------------------------------------------------
r="" # set by answer
# answer VAR CURL_ARGS...: VAR="<http code> <body>" (code 000: no HTTP answer; then the
# curl exit status is appended)
answer() {
  local var="$1" body code rc=0; shift
  code="$(curl -sS --max-time 10 -o "$work/body" -w '%{http_code}' "$@" 2>"$work/err")" || rc=$?
  body="$(tr '\n' ' ' < "$work/body" 2>/dev/null || true)"
  ((rc == 0)) || body="curl exit $rc: $(tr '\n' ' ' < "$work/err")"
  printf -v "$var" '%s %s' "$code" "$body"
}
# the serving certificate verifies against the node CA for the node address (what
# --kubelet-certificate-authority makes the API server check)
answer r --cacert "$PKI/ca.crt" "$logs_url"
note "no credentials: $r"
[[ "$r" == "401 Unauthorized"* ]] || fail "a request without a client certificate got '$r', not 401 Unauthorized"
grep -qF "$secret" <<<"$r" && fail "the refusal leaked the pod's line"
answer r --cacert "$PKI/ca.crt" -H "Authorization: Bearer forged-$RANDOM" "$logs_url"
[[ "$r" == "401 "*"did not accept"* ]] || fail "a forged bearer token got '$r', not 401"
note "forged token: $r"

answer r --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-kubelet-client.crt" --key "$PKI/apiserver-kubelet-client.key" "$logs_url"
[[ "$r" == "200 $secret"* ]] || fail "the API server's kubelet client certificate got '$r', not 200 with the line"
note "the API server's kubelet client certificate: 200"

# a client certificate of the cluster's CA (cert-admin, group system:masters) is not one
# of the kubelet port's: the handshake fails
answer r --cacert "$PKI/ca.crt" --cert "$API_PKI/cert-admin.crt" --key "$API_PKI/cert-admin.key" "$logs_url"
[[ "$r" == "000 curl exit"* ]] || fail "a certificate of the cluster CA got '$r', not a failed handshake"
note "the cluster CA's system:masters certificate: $r"

# a certificate of the node CA names a user; RBAC gives that one nothing
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=e2e-team/CN=e2e-nobody" \
  -keyout "$work/nobody.key" -out "$work/nobody.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > "$work/nobody.ext"
openssl x509 -req -in "$work/nobody.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAserial "$work/ca.srl" -CAcreateserial \
  -days 1 -extfile "$work/nobody.ext" -out "$work/nobody.crt" 2>/dev/null
answer r --cacert "$PKI/ca.crt" --cert "$work/nobody.crt" --key "$work/nobody.key" "$logs_url"
[[ "$r" == "403 Forbidden (user=e2e-nobody, verb=get, resource=nodes, subresource=proxy)"* ]] \
  || fail "a node CA certificate without rights got '$r', not the kubelet's 403"
note "a node CA certificate without rights: $r"

# an admin's bearer token (system:masters): reviewed and let in
admin_token="$(k config view --raw --minify -o 'jsonpath={.users[0].user.token}')"
[[ -n "$admin_token" ]] || fail "the admin kubeconfig holds no token"
answer r --cacert "$PKI/ca.crt" -H "Authorization: Bearer $admin_token" "$logs_url"
[[ "$r" == "200 $secret"* ]] || fail "the admin's bearer token got '$r', not 200 with the line"
note "the admin's bearer token: 200"
# a path the port does not serve: 401 first, 404 only once authorized
answer r --cacert "$PKI/ca.crt" "https://$NODE_IP:10250/exec/$NS/victim/c"
[[ "$r" == "401 "* ]] || fail "an unserved path without credentials got '$r', not 401"
answer r --cacert "$PKI/ca.crt" -H "Authorization: Bearer $admin_token" "https://$NODE_IP:10250/exec/$NS/victim/c"
[[ "$r" == "404 "* ]] || fail "an unserved path with the admin's token got '$r', not 404"

# /healthz: authorized on the kubelet port, "ok" for the API server's certificate; open on
# the healthz port of the host's loopback
answer r --cacert "$PKI/ca.crt" "https://$NODE_IP:10250/healthz"
[[ "$r" == "401 Unauthorized"* ]] || fail "/healthz on the kubelet port without credentials got '$r', not 401"
answer r --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-kubelet-client.crt" --key "$PKI/apiserver-kubelet-client.key" "https://$NODE_IP:10250/healthz"
[[ "$r" == "200 ok" ]] || fail "/healthz on the kubelet port with the API server's certificate got '$r', not '200 ok'"
answer r "http://127.0.0.1:10248/healthz"
[[ "$r" == "200 ok" ]] || fail "the healthz port got '$r', not '200 ok'"
note "/healthz: 401 anonymously and 200 ok for the API server on the kubelet port; 200 ok on 127.0.0.1:10248"

# oversized input: a token past the port's token cap is 401 naming it, headers past the
# header cap 431; the port serves the next request
printf -v big '%*s' 20000 ''
answer r --cacert "$PKI/ca.crt" -H "Authorization: Bearer ${big// /a}" "$logs_url"
[[ "$r" == "401 "*"longer than 16384 bytes"* ]] || fail "a 20000-byte bearer token got '$r', not 401 naming the cap"
printf -v big '%*s' 40000 ''
answer r --cacert "$PKI/ca.crt" -H "X-Filler: ${big// /a}" "$logs_url"
[[ "$r" == "431 "* ]] || fail "40000 bytes of headers got '$r', not 431"
answer r --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-kubelet-client.crt" --key "$PKI/apiserver-kubelet-client.key" "$logs_url"
[[ "$r" == "200 $secret"* ]] || fail "after the oversized requests the port answered '$r', not 200 with the line"
note "a 20000-byte token: 401; 40000 bytes of headers: 431; the port serves on"
# the refused certificate of the cluster CA is logged with OpenSSL's reason
grep -q '"event":"http_tls_client_cert_refused"' "$AIOS_CLUSTER_DIR/aios-node.log" \
  || fail "aios-node logged no http_tls_client_cert_refused event for the cluster CA's certificate"

# kubectl exec reaches the port with the API server's rights and gets its 404 (aios-node
# runs pods as processes and serves no exec), not an authorization error
out="$(kn exec victim -- true 2>&1)" && fail "kubectl exec succeeded on aios-node: $out"
grep -qF 'Error from server (NotFound): POST /exec/' <<<"$out" && grep -qF 'aios-node serves GET /containerLogs' <<<"$out" \
  || fail "kubectl exec did not fail with the port's 404: $out"
note "kubectl exec: $out"

# --- from a pod on the bridge ----------------------------------------------------------
kn apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: neighbour}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: aios/trainer:e2e
    command: [sh, -c, 'u=$logs_url; t=/var/run/secrets/kubernetes.io/serviceaccount/token;
      echo "anonymous: \$(curl -sk --max-time 10 -w " code=%{http_code}" \$u | tr "\n" " ")";
      if [ -r \$t ]; then echo "token: \$(curl -sk --max-time 10 -H "Authorization: Bearer \$(cat \$t)" -w " code=%{http_code}" \$u | tr "\n" " ")"; else echo "token: none mounted"; fi;
      echo "healthz: \$(curl -sk --max-time 10 -w " code=%{http_code}" https://$NODE_IP:10250/healthz | tr "\n" " ")"']
YAML
wait_until "pod neighbour finished" 90 bash -c "[[ \$('$KBIN/kubectl' -n $NS get pod neighbour -o 'jsonpath={.status.phase}') =~ ^(Succeeded|Failed)$ ]]"
out="$(kn logs neighbour 2>&1)" || fail "kubectl logs neighbour failed: $out"
note "the neighbour pod: $(tr '\n' ';' <<<"$out")"
grep -qF "$secret" <<<"$out" && fail "a pod on the bridge read another pod's logs from the kubelet port"
grep -q '^anonymous: Unauthorized.* code=401' <<<"$out" || fail "the pod's anonymous request was not refused with 401"
grep -qF "token: Forbidden (user=system:serviceaccount:$NS:default, verb=get, resource=nodes, subresource=proxy)" <<<"$out" \
  || fail "the pod's ServiceAccount token was not refused with the kubelet's 403"
grep -q 'code=403' <<<"$out" || fail "the pod's ServiceAccount token did not get 403"
grep -q '^healthz: Unauthorized.* code=401' <<<"$out" || fail "/healthz on the kubelet port was not refused to the pod with 401"
note "a pod on the bridge: 401 anonymously (/healthz too), 403 with its ServiceAccount token, no line of the other pod"
grep -q '"event":"kubelet_refused"' "$AIOS_CLUSTER_DIR/aios-node.log" || fail "aios-node logged no kubelet_refused event"
exit 0
