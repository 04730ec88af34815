#!/usr/bin/env bash
# Storage as on a cluster: a claim of the default StorageClass gets a PersistentVolume
# from aios-node's provisioner, the controller manager binds them, a pod naming the
# claim schedules and writes through its mount, a second pod reads the data back, and
# deleting the claim deletes the volume and its directory (reclaimPolicy Delete).
# E2E_LIMIT=180
source "$(dirname "$0")/lib.sh"
setup_ns

kn apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  restartPolicy: Never
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
  containers:
  - name: w
    image: aios/trainer:e2e
    command: [sh, -c, 'echo "written by $(HOSTNAME)" > /mnt/pvc/data/hello.txt']
    volumeMounts: [{name: d, mountPath: /mnt/pvc/data}]
YAML
wait_until "claim data Bound" 60 phase_is pvc/data Bound
[[ "$(jp pvc/data '{.spec.storageClassName}')" == aios-local ]] || fail "the claim did not get the default StorageClass aios-local"
pv="$(jp pvc/data '{.spec.volumeName}')"
[[ "$(k get pv "$pv" -o 'jsonpath={.metadata.annotations.pv\.kubernetes\.io/provisioned-by}')" == aios.dev/local ]] \
  || fail "volume $pv was not provisioned by aios.dev/local"
[[ "$(k get pv "$pv" -o 'jsonpath={.spec.capacity.storage}')" == 2Gi ]] || fail "volume $pv does not have the requested 2Gi"
dir="$(k get pv "$pv" -o 'jsonpath={.spec.hostPath.path}')"
note "claim bound to $pv at $dir"
wait_until "pod writer Succeeded" 60 phase_is pod/writer Succeeded
[[ "$(cat "$dir/hello.txt")" == "written by writer" ]] || fail "the pod's write did not land in $dir"

kn apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  volumes: [{name: d, persistentVolumeClaim: {claimName: data, readOnly: true}}]
  containers:
  - name: r
    image: aios/trainer:e2e
    command: [sh, -c, 'cat /data/hello.txt; if touch /data/x 2>/dev/null; then echo writable; else echo read-only; fi']
    volumeMounts: [{name: d, mountPath: /data}]
YAML
wait_until "pod reader Succeeded" 60 phase_is pod/reader Succeeded
out="$(kn logs reader)"
[[ "$out" == *"written by writer"* ]] || fail "the second pod did not read the data: $out"
[[ "$out" == *read-only* ]] || fail "a readOnly claim was writable: $out"
[[ ! -e "$dir/x" ]] || fail "a file appeared through a read-only mount"
note "data survives across pods; readOnly honoured"

kn delete pod writer reader --wait=true >/dev/null
kn delete pvc data --wait=true >/dev/null
wait_until "volume $pv deleted after its claim" 60 bash -c "! '$KBIN/kubectl' get pv $pv"
[[ ! -e "$dir" ]] || fail "directory $dir outlived its volume"
note "claim deleted: volume and directory removed"
exit 0
