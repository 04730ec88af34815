#!/usr/bin/env bash
# aios-node runs pods as a kubelet would: scheduled by kube-scheduler, own network
# namespace and pod IP on the bridge, pod-to-pod traffic, downward API env, configMap
# and emptyDir volumes, readiness from an HTTP probe, Endpoints filled by the controller
# manager and the API server's service proxy reaching the pod, `kubectl logs` through
# the kubelet port, unsupported images reported, restartPolicy OnFailure with the
# termination message, and deletion: SIGTERM, grace, pod object removed, processes and
# namespace gone.
# E2E_LIMIT=240
source "$(dirname "$0")/lib.sh"
setup_ns
hostdir="$(mktemp -d /tmp/aios-e2e-pods.XXXXXX)"
chown 65532:65532 "$hostdir" # a hostPath keeps its owner: the pod runs as the images' user
trap 'k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; rm -rf "$hostdir"' EXIT

kn apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: demo}
data: {key: value-from-configmap}
---
apiVersion: v1
kind: Pod
metadata: {name: server, labels: {app: server}}
spec:
  terminationGracePeriodSeconds: 5
  volumes:
  - {name: conf, configMap: {name: demo}}
  - {name: scratch, emptyDir: {}}
  - {name: host, hostPath: {path: $hostdir}}
  containers:
  - name: web
    image: aios/serve:e2e
    command: [sh, -c, 'trap "echo got-term > /host/term; exit 0" TERM; cp /etc/demo/key /scratch/k; cd /scratch && python3 -m http.server 8080 & wait']
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /k, port: http}, periodSeconds: 1}
    volumeMounts:
    - {name: conf, mountPath: /etc/demo, readOnly: true}
    - {name: scratch, mountPath: /scratch}
    - {name: host, mountPath: /host}
---
apiVersion: v1
kind: Service
metadata: {name: server}
spec:
  selector: {app: server}
  ports: [{port: 80, targetPort: 8080}]
YAML
wait_until "pod server Ready" 60 bash -c "[[ \$('$KBIN/kubectl' -n $NS get pod server -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
server_ip="$(jp pod/server '{.status.podIP}')"
[[ "$server_ip" =~ ^10\.244\.0\.([0-9]+)$ && "${BASH_REMATCH[1]}" -gt 1 ]] || fail "server podIP $server_ip is not a pod address of 10.244.0.0/24"
[[ "$(jp pod/server '{.status.hostIP}')" == 10.244.0.1 ]] || fail "hostIP is not the node's InternalIP"
[[ "$(jp pod/server '{.spec.nodeName}')" == aios-node ]] || fail "the scheduler did not bind the pod to aios-node"
note "server Ready at $server_ip"

kn apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: aios/trainer:e2e
    command: [sh, -c, 'for i in 1 2 3 4 5; do curl -sf --max-time 3 http://$server_ip:8080/k && echo " reached (try \$i)" && break; sleep 1; done; echo "me=\$(MY_NAME)/\$(MY_NS) ip=\$(MY_IP) node=\$(MY_NODE) role=\$(ROLE)"; ip -4 -o addr show eth0']
    env:
    - {name: MY_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MY_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MY_NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: ROLE, valueFrom: {fieldRef: {fieldPath: "metadata.labels['role']"}}}
YAML
wait_until "pod client Succeeded" 60 phase_is pod/client Succeeded
client_ip="$(jp pod/client '{.status.podIP}')"
logs="$(kn logs client)" || fail "kubectl logs client failed"
note "client log: $(echo "$logs" | tr '\n' ' ')"
grep -q "value-from-configmap reached" <<<"$logs" || fail "client did not reach the server pod at $server_ip (pod-to-pod over the bridge)"
grep -q "me=client/$NS ip=$client_ip node=aios-node role=client" <<<"$logs" || fail "downward API env wrong"
grep -q "inet $client_ip/24" <<<"$logs" || fail "client's eth0 does not hold its pod IP $client_ip"
[[ "$client_ip" != "$server_ip" ]] || fail "two pods got the same IP"

wait_until "Endpoints of service server to list $server_ip" 30 bash -c "[[ \$('$KBIN/kubectl' -n $NS get endpoints server -o 'jsonpath={.subsets[0].addresses[0].ip}') == $server_ip ]]"
proxied="$(k get --raw "/api/v1/namespaces/$NS/services/server:80/proxy/k")" || fail "service proxy request failed"
[[ "$proxied" == value-from-configmap ]] || fail "service proxy answered '$proxied'"
note "Endpoints and the service proxy reach the pod"

kn apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: badimage}
spec:
  containers: [{name: c, image: "nginx:1.25"}]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  restartPolicy: OnFailure
  containers:
  - name: c
    image: aios/trainer:e2e
    command: [sh, -c, 'echo "bad input: x" > /dev/termination-log; exit 3']
YAML
wait_until "badimage waiting with ImageNotSupported" 30 bash -c "[[ \$('$KBIN/kubectl' -n $NS get pod badimage -o 'jsonpath={.status.containerStatuses[0].state.waiting.reason}') == ImageNotSupported ]]"
wait_until "crasher restarted by OnFailure" 40 bash -c "(( \$('$KBIN/kubectl' -n $NS get pod crasher -o 'jsonpath={.status.containerStatuses[0].restartCount}') >= 1 ))"
[[ "$(jp pod/crasher '{.status.containerStatuses[0].lastState.terminated.exitCode}')" == 3 ]] || fail "crasher's lastState exit code is not 3"
[[ "$(jp pod/crasher '{.status.containerStatuses[0].lastState.terminated.message}')" == "bad input: x"* ]] || fail "termination message not reported"
note "ImageNotSupported reported; OnFailure restarts with exit code and termination message"

uid="$(jp pod/server '{.metadata.uid}')"
netns="aios-$(echo "${uid//-/}" | cut -c1-12)"
ip netns list | grep -q "^$netns" || fail "no network namespace $netns for the server pod"
pids="$(pids_with_env "HOSTNAME=server")"
[[ -n "$pids" ]] || fail "cannot find the server pod's processes"
t0=$SECONDS
kn delete pod server --wait=true --timeout=30s >/dev/null || fail "deleting pod server did not finish"
note "server deleted in $((SECONDS - t0))s"
[[ "$(cat "$hostdir/term" 2>/dev/null)" == got-term ]] || fail "the server did not receive SIGTERM before it stopped"
for p in $pids; do
  [[ -d /proc/$p ]] && fail "process $p ($(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)) of the deleted pod still runs"
done
ip netns list | grep -q "^$netns" && fail "network namespace $netns outlived its pod"
note "deletion: SIGTERM delivered, processes and namespace gone"
exit 0
