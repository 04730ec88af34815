#!/usr/bin/env bash
# aios-node runs each container isolated (docs/node.md, "Isolation"): as the images'
# user 65532 by default (or its securityContext's), in a root of its own where the
# host's sensitive files do not exist (/etc/shadow, the cluster's keys under
# $AIOS_CLUSTER_DIR/api), with no capability, no_new_privs and a seccomp filter, the root
# read-only under readOnlyRootFilesystem while its volumes stay writable, a Secret
# volume on a tmpfs with files 0640 (the API's defaultMode 0644 less the bits for others)
# in a 0700 directory, in its own PID namespace (its shell is PID 1), and killed by its
# memory limit (OOMKilled). A TrainingJob reading file:///etc/shadow fails without
# showing a line of it; one whose output.uri names a host file leaves that file alone.
# E2E_LIMIT=180
source "$(dirname "$0")/lib.sh"
setup_ns
trap 'k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

kn apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: tok}
stringData: {token: s3cret-e2e}
---
apiVersion: v1
kind: Pod
metadata: {name: probe}
spec:
  restartPolicy: Never
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: tok, secret: {secretName: tok}}
  containers:
  - name: c
    image: aios/trainer:e2e
    securityContext: {readOnlyRootFilesystem: true}
    command: [sh, -c, 'echo "uid=\$(id -u) gid=\$(id -g)";
      if cat /etc/shadow >/dev/null 2>&1; then echo shadow=readable; else echo shadow=unreadable; fi;
      if ls $AIOS_CLUSTER_DIR/api >/dev/null 2>&1; then echo cluster=visible; else echo cluster=hidden; fi;
      if touch /root-write 2>/dev/null; then echo root=writable; else echo root=read-only; fi;
      if echo x > /scratch/f; then echo volume=writable; fi;
      echo "secret=\$(cat /var/run/tok/token) mode=\$(stat -c %a /var/run/tok/token) dirmode=\$(stat -L -c %a /var/run/tok) fs=\$(stat -f -c %T /var/run/tok)";
      grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " ";
      echo "self=\$\$\$\$ procs=\$(ls /proc | grep -c "^[0-9]")";
      if unshare -m true 2>/dev/null; then echo unshare=allowed; else echo unshare=refused; fi']
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: tok, mountPath: /var/run/tok, readOnly: true}
---
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: aios/trainer:e2e
    command: [python3, -c, 'x = bytearray(256 << 20); print("allocated", len(x))']
    resources: {limits: {memory: 64Mi, cpu: 500m}}
YAML
wait_until "pod probe Succeeded" 60 phase_is pod/probe Succeeded
logs="$(kn logs probe)" || fail "kubectl logs probe failed"
note "probe: $(echo "$logs" | tr '\n' ';')"
want=("uid=65532 gid=65532" "shadow=unreadable" "cluster=hidden" "root=read-only" "volume=writable"
      "secret=s3cret-e2e mode=640 dirmode=700 fs=tmpfs" "CapEff: 0000000000000000" "CapBnd: 0000000000000000"
      "NoNewPrivs: 1" "Seccomp: 2" "self=1 " "unshare=refused")
for w in "${want[@]}"; do
  grep -qF "$w" <<<"$logs" || fail "the probe pod did not report '$w'"
done
procs="$(sed -n 's/.*procs=\([0-9]*\).*/\1/p' <<<"$logs")"
(( procs < 10 )) || fail "the pod sees $procs processes: not a PID namespace of its own"
note "user 65532, no /etc/shadow, no cluster keys, read-only root, writable volume, secret on tmpfs 0640 in 0700, no capabilities, seccomp, own PID namespace"

wait_until "pod hog Failed" 60 phase_is pod/hog Failed
reason="$(jp pod/hog '{.status.containerStatuses[0].state.terminated.reason}')"
code="$(jp pod/hog '{.status.containerStatuses[0].state.terminated.exitCode}')"
[[ "$reason" == OOMKilled && "$code" == 137 ]] || fail "the memory hog ended with $reason/$code, not OOMKilled/137"
kn logs hog | grep -q allocated && fail "the memory hog allocated 256 MiB under a 64 MiB limit"
note "a 256 MiB allocation under limits.memory 64Mi: OOMKilled, exit 137"

kn apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: TrainingJob
metadata: {name: shadow}
spec:
  model: {type: linear}
  optimizer: {type: sgd, epochs: 1}
  data: {uri: "file:///etc/shadow", format: csv}
  output: {uri: "file:///tmp/shadow.aios"}
  runPolicy: {backoffLimit: 0}
YAML
wait_until "TrainingJob shadow Failed" 90 bash -c "[[ \$('$KBIN/kubectl' -n $NS get tj shadow -o 'jsonpath={.status.phase}') == Failed ]]"
status="$(kn get tj shadow -o json)"
root_line="$(grep -m1 '^root:' /etc/shadow | cut -d: -f1-2)"
grep -qF "$root_line" <<<"$status" && fail "the TrainingJob's status shows a line of the host's /etc/shadow"
note "its status: $(kn get tj shadow -o 'jsonpath={.status.conditions[*].message}' | head -c 300)"
note "a TrainingJob reading file:///etc/shadow fails without a line of it"

# output.uri names a file of the host: the artifact lands in the container's own /tmp
# (gone with it), the host's file keeps its bytes
victim="$(mktemp /tmp/aios-e2e-victim.XXXXXX)"
chmod 666 "$victim" # even a file anyone on the host may write
echo original > "$victim"
trap 'k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; rm -f "$victim"' EXIT
kn apply -f - >/dev/null <<YAML
apiVersion: aios.dev/v1alpha1
kind: TrainingJob
metadata: {name: overwrite}
spec:
  model: {type: linear}
  optimizer: {type: sgd, epochs: 2}
  data: {inline: {features: [[1], [2], [3], [4]], labels: [2, 4, 6, 8]}}
  output: {uri: "file://$victim"}
  runPolicy: {backoffLimit: 0}
YAML
wait_until "TrainingJob overwrite finished" 90 bash -c "[[ \$('$KBIN/kubectl' -n $NS get tj overwrite -o 'jsonpath={.status.phase}') =~ ^(Succeeded|Failed)$ ]]"
note "TrainingJob overwrite: $(jp tj/overwrite '{.status.phase}'), artifact $(jp tj/overwrite '{.status.artifact.uri}')"
[[ "$(cat "$victim")" == original ]] || fail "output.uri file://$victim overwrote the host's file"
note "output.uri file://$victim left the host's file as it was"
exit 0
