#!/usr/bin/python3
"""Checks of the install manifests that need no cluster: crds/, operator/, helm/aios/,
examples/ and docs/api-reference.md.

    tests/unit/manifests/check_manifests.py CHECK     run one check (exit 1 on failure)
    tests/unit/manifests/check_manifests.py all       run every check
    tests/unit/manifests/check_manifests.py render [RELEASE NAMESPACE]
        print the chart rendered with its default values (default: release aios in
        aios-system), for kubectl

Checks:
  crd-structure   structural-schema rules of Kubernetes 1.20: a type on every node, no
                  type/description/default inside oneOf/anyOf, no CEL; a description on
                  every field; every default valid against its own schema; printer
                  columns point at fields of the right type
  crd-contract    every field, default and enum of DESIGN.md's API section is in the CRDs
  chart-crds      helm/aios/files/crds/ is byte-identical to crds/
  chart-metadata  Chart.yaml fields; values.yaml valid against values.schema.json, and bad
                  values refused by it
  helm-lint       real Helm 3.8.1 (scripts/helm.sh) lints the chart, strict
  chart-render    the templates render (`helm template`) to valid objects for several values
  chart-agrees    the chart's RBAC, Deployments and Services agree with operator/
  kustomize       operator/ lists every file, least-privilege RBAC, safe Deployment
  gateway         aios-gateway in the chart and operator/: >= 2 replicas, its Service, its
                  read-only ClusterRole, --operator-url naming the operator's demand Service
  rbac-sync       operator/'s ClusterRole and Role grant exactly src/operator/RBAC.md's table
  dashboard       the chart ships dashboards/aios-overview.json in a ConfigMap, only when
                  asked (its queries are checked by tests/unit/dashboard)
  examples        examples/*.yaml of aios kinds are valid against the CRD schemas, with
                  unknown fields refused (as kubectl's client-side validation does)
  api-reference   docs/api-reference.md is what scripts/gen-api-reference.py generates

Runs under Debian's python3 with python3-yaml and python3-jsonschema (install-deps.sh).
tests/unit/manifests/test_manifests.c runs each check as a ctest unit test.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))

ROOT = os.environ.get("AIOS_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CRD_FILES = {"TrainingJob": "trainingjobs.aios.dev.yaml", "ModelService": "modelservices.aios.dev.yaml"}
BRANCH_FORBIDDEN = ("type", "description", "default", "additionalProperties", "nullable",
                    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource")


class Failures:
    """Collects every problem of a check, so one run reports them all."""

    def __init__(self):
        self.items = []

    def add(self, msg):
        self.items.append(msg)

    def expect(self, cond, msg):
        if not cond:
            self.add(msg)
        return cond


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key twice in one mapping (PyYAML and kubectl keep the
    last one silently, so a duplicated field would hide the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r" % key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return yaml.load(f, Loader=UniqueKeyLoader)


def load_all(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return [d for d in yaml.load_all(f, Loader=UniqueKeyLoader) if d]


def crd(kind):
    return load_yaml(os.path.join("crds", CRD_FILES[kind]))


def schema_of(kind):
    return crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def node_at(schema, path):
    """Schema node of a dot path (items of arrays followed through "[]")."""
    s = schema
    for part in path.split("."):
        arr = part.endswith("[]")
        s = s.get("properties", {}).get(part[:-2] if arr else part)
        if s is None:
            return None
        if arr:
            s = s.get("items")
    return s


def strip_k8s(s):
    """A copy of a schema node without x-kubernetes-* keys (for jsonschema)."""
    if isinstance(s, dict):
        return {k: strip_k8s(v) for k, v in s.items() if not k.startswith("x-kubernetes-")}
    if isinstance(s, list):
        return [strip_k8s(v) for v in s]
    return s


def closed(s):
    """A copy where objects with declared properties refuse unknown fields (like kubectl)."""
    if isinstance(s, list):
        return [closed(v) for v in s]
    if not isinstance(s, dict):
        return s
    out = {k: closed(v) for k, v in s.items()}
    if s.get("type") == "object" and "properties" in s and not s.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


# ---- crd-structure ----------------------------------------------------------------------

def walk(path, s, f, in_branch=False):
    """Checks one schema node and everything below it."""
    if not isinstance(s, dict):
        f.add("%s: not a schema object" % path)
        return
    if "x-kubernetes-validations" in s:
        f.add("%s: x-kubernetes-validations (CEL) does not exist on Kubernetes 1.20" % path)
    if in_branch:
        for k in BRANCH_FORBIDDEN:
            f.expect(k not in s, "%s: %s inside oneOf/anyOf/allOf/not breaks structural schemas" % (path, k))
    elif not s.get("x-kubernetes-int-or-string"):
        f.expect("type" in s, "%s: no type (structural schemas need one on every node)" % path)
    if "default" in s and not in_branch:
        try:
            jsonschema.Draft4Validator(strip_k8s(s)).validate(s["default"])
        except jsonschema.ValidationError as e:
            f.add("%s: default %r is invalid against its own schema: %s" % (path, s["default"], e.message))
        if s.get("type") == "object" and s["default"] != {}:
            f.add("%s: object default other than {} (defaults belong on the leaves)" % path)
    for key in ("oneOf", "anyOf", "allOf"):
        for i, b in enumerate(s.get(key, [])):
            bp = "%s.%s[%d]" % (path, key, i)
            if s.get("x-kubernetes-int-or-string") and key == "anyOf":
                # The one structural form: the two types alone (1.20 refuses anything more).
                f.expect(s["anyOf"] == [{"type": "integer"}, {"type": "string"}],
                         "%s: x-kubernetes-int-or-string needs anyOf [{type: integer}, {type: string}] and nothing else in it" % path)
                break
            walk(bp, b, f, in_branch=True)
            for r in b.get("required", []):
                f.expect(r in s.get("properties", {}), "%s: requires %s, which %s does not declare" % (bp, r, path))
    if "not" in s:
        walk(path + ".not", s["not"], f, in_branch=True)
    for name, sub in s.get("properties", {}).items():
        p = path + "." + name
        if not in_branch and p not in ("openAPIV3Schema.metadata",):
            f.expect(str(sub.get("description", "")).strip() != "", "%s: no description (kubectl explain shows nothing)" % p)
        walk(p, sub, f, in_branch)
    for r in s.get("required", []):
        if not in_branch:
            f.expect(r in s.get("properties", {}), "%s: requires undeclared field %s" % (path, r))
    if isinstance(s.get("items"), dict):
        it = s["items"]
        if it.get("type") == "object" and not in_branch:
            f.expect(str(it.get("description", "")).strip() != "", "%s[]: object items need a description" % path)
        walk(path + "[]", it, f, in_branch)
    elif s.get("type") == "array" and not in_branch:
        f.add("%s: array without items" % path)
    if isinstance(s.get("additionalProperties"), dict):
        walk(path + "{}", s["additionalProperties"], f, in_branch)


def check_crd_structure(f):
    for kind, fn in CRD_FILES.items():
        c = crd(kind)
        spec = c["spec"]
        f.expect(c["apiVersion"] == "apiextensions.k8s.io/v1", "%s: apiVersion must be apiextensions.k8s.io/v1" % fn)
        f.expect(c["metadata"]["name"] == "%s.%s" % (spec["names"]["plural"], spec["group"]), "%s: name must be PLURAL.GROUP" % fn)
        f.expect(spec["group"] == "aios.dev", "%s: group must be aios.dev" % fn)
        f.expect(spec["scope"] == "Namespaced", "%s: scope must be Namespaced" % fn)
        f.expect(spec["names"]["kind"] == kind, "%s: kind must be %s" % (fn, kind))
        f.expect("aios" in spec["names"].get("categories", []), "%s: category aios missing" % fn)
        f.expect(not spec.get("preserveUnknownFields"), "%s: preserveUnknownFields must stay false" % fn)
        vers = spec["versions"]
        f.expect([v["name"] for v in vers] == ["v1alpha1"], "%s: one version, v1alpha1" % fn)
        v = vers[0]
        f.expect(v.get("served") and v.get("storage"), "%s: v1alpha1 must be served and stored" % fn)
        f.expect(v.get("subresources", {}).get("status") == {}, "%s: status subresource missing" % fn)
        root = v["schema"]["openAPIV3Schema"]
        walk("openAPIV3Schema", root, f)
        for col in v.get("additionalPrinterColumns", []):
            jp = col["jsonPath"]
            f.expect(str(col.get("description", "")).strip() or jp == ".metadata.creationTimestamp",
                     "%s: printer column %s has no description" % (fn, col["name"]))
            if jp.startswith(".metadata."):
                continue
            node = node_at(root, jp.lstrip("."))
            if not f.expect(node is not None, "%s: printer column %s points at missing %s" % (fn, col["name"], jp)):
                continue
            want = {"integer": "integer", "number": "number", "string": "string", "boolean": "boolean"}[col["type"]]
            f.expect(node.get("type") == want, "%s: printer column %s is %s but %s is %s" % (fn, col["name"], want, jp, node.get("type")))


# ---- crd-contract -------------------------------------------------------------------------

TEMPLATE_FIELDS = ["image", "resources", "nodeSelector", "tolerations", "affinity", "serviceAccountName",
                   "priorityClassName", "schedulerName", "env", "volumes"]
CONTRACT = {
    "TrainingJob": {
        "short": "tj",
        "columns": ["Phase", "Workers", "Epoch", "Loss", "Age"],
        "fields": [
            "spec.model.type", "spec.model.hidden", "spec.model.activation", "spec.model.outputs", "spec.loss",
            "spec.optimizer.type", "spec.optimizer.learningRate", "spec.optimizer.batchSize", "spec.optimizer.epochs",
            "spec.optimizer.momentum", "spec.optimizer.beta1", "spec.optimizer.beta2", "spec.optimizer.epsilon",
            "spec.optimizer.weightDecay", "spec.optimizer.seed",
            "spec.data.inline.features", "spec.data.inline.labels", "spec.data.uri", "spec.data.format",
            "spec.data.header", "spec.data.labelColumn", "spec.data.sha256", "spec.data.validationSplit",
            "spec.data.normalize",
            "spec.distributed.workers", "spec.distributed.strategy", "spec.distributed.parameterServers",
            "spec.checkpoint.everyEpochs", "spec.output.uri",
            "spec.search.trials", "spec.search.parallelism", "spec.search.algorithm", "spec.search.seed",
            "spec.search.objective.metric", "spec.search.objective.goal", "spec.search.space.learningRate",
            "spec.search.space.batchSize", "spec.search.space.hidden", "spec.search.space.activation",
            "spec.search.space.weightDecay", "spec.search.space.epochs",
            "spec.runPolicy.backoffLimit", "spec.runPolicy.activeDeadlineSeconds",
            "spec.runPolicy.ttlSecondsAfterFinished", "spec.runPolicy.cleanPodPolicy", "spec.runPolicy.suspend",
            "status.phase", "status.conditions", "status.observedGeneration", "status.startTime",
            "status.completionTime", "status.attempts", "status.workers.active", "status.workers.succeeded",
            "status.workers.failed", "status.progress.epoch", "status.progress.epochs", "status.progress.loss",
            "status.progress.validationLoss", "status.progress.samplesPerSecond", "status.progress.percent",
            "status.progress.etaSeconds", "status.artifact.uri", "status.artifact.sha256", "status.artifact.bytes",
            "status.trials", "status.best",
        ] + ["spec.template." + t for t in TEMPLATE_FIELDS],
        "defaults": {
            "spec.distributed.workers": 1, "spec.distributed.strategy": "allreduce",
            "spec.distributed.parameterServers": 1, "spec.checkpoint.everyEpochs": 1,
            "spec.runPolicy.backoffLimit": 3, "spec.runPolicy.cleanPodPolicy": "Running",
            "spec.runPolicy.suspend": False,
        },
        "enums": {
            "spec.model.type": ["linear", "logistic", "softmax", "mlp"],
            "spec.model.activation": ["relu", "tanh", "sigmoid"],
            "spec.loss": ["mse", "cross_entropy", "hinge"],
            "spec.optimizer.type": ["gd", "sgd", "momentum", "adam"],
            "spec.data.format": ["csv", "f32"],
            "spec.distributed.strategy": ["allreduce", "parameter-server", "pipeline"],
            "spec.runPolicy.cleanPodPolicy": ["Running", "All", "None"],
            "spec.search.algorithm": ["grid", "random", "successive-halving"],
            "spec.search.objective.metric": ["validationLoss", "accuracy"],
            "spec.search.objective.goal": ["minimize", "maximize"],
            "spec.search.space.learningRate.scale": ["linear", "log"],
            "status.phase": ["Pending", "Running", "Restarting", "Succeeded", "Failed", "Suspended"],
        },
        "one_of": {"spec.data": [["inline"], ["uri"]]},
    },
    "ModelService": {
        "short": "ms",
        "columns": ["Phase", "Ready", "Desired", "URL", "Age"],
        "fields": [
            "spec.model.trainingJob", "spec.model.uri", "spec.model.sha256",
            "spec.runtime.quantize", "spec.runtime.pruneSparsity", "spec.runtime.maxBatchSize",
            "spec.runtime.maxBatchDelayMicros", "spec.runtime.threads", "spec.runtime.maxRequestBytes",
            "spec.replicas.min", "spec.replicas.max", "spec.replicas.count",
            "spec.autoscaling.metric", "spec.autoscaling.target", "spec.autoscaling.stableWindowSeconds",
            "spec.autoscaling.panicWindowSeconds", "spec.autoscaling.panicThreshold",
            "spec.autoscaling.scaleDownDelaySeconds", "spec.autoscaling.maxScaleUpRate",
            "spec.autoscaling.maxScaleDownRate",
            "status.phase", "status.conditions", "status.observedGeneration", "status.replicas",
            "status.readyReplicas", "status.desiredReplicas", "status.lastScaleTime", "status.url",
            "status.selector", "status.model.uri", "status.model.sha256", "status.metrics.concurrency", "status.metrics.rps",
            "status.metrics.latencyP99Ms",
        ] + ["spec.template." + t for t in TEMPLATE_FIELDS],
        "defaults": {
            "spec.replicas.min": 1, "spec.replicas.max": 10, "spec.replicas.count": 1,
            "spec.autoscaling.metric": "concurrency",
            "spec.autoscaling.stableWindowSeconds": 60, "spec.autoscaling.panicWindowSeconds": 6,
            "spec.autoscaling.panicThreshold": 2.0, "spec.autoscaling.maxScaleUpRate": 1000,
            "spec.autoscaling.maxScaleDownRate": 2, "spec.runtime.quantize": "none",
        },
        "enums": {
            "spec.runtime.quantize": ["none", "int8"],
            "spec.autoscaling.metric": ["concurrency", "rps", "external"],
        },
        "one_of": {"spec.model": [["trainingJob"], ["uri"]]},
        # kubectl scale, an HPA and KEDA drive spec.replicas.count (docs/autoscaling.md)
        "scale": {"specReplicasPath": ".spec.replicas.count", "statusReplicasPath": ".status.replicas",
                  "labelSelectorPath": ".status.selector"},
    },
}


def check_crd_contract(f):
    for kind, want in CONTRACT.items():
        c = crd(kind)
        v = c["spec"]["versions"][0]
        root = v["schema"]["openAPIV3Schema"]
        f.expect(c["spec"]["names"].get("shortNames") == [want["short"]], "%s: short name must be %s" % (kind, want["short"]))
        cols = [col["name"] for col in v.get("additionalPrinterColumns", [])]
        f.expect(cols == want["columns"], "%s: printer columns %s, want %s" % (kind, cols, want["columns"]))
        for path in want["fields"]:
            f.expect(node_at(root, path) is not None, "%s: DESIGN.md field %s is missing" % (kind, path))
        for path, value in want["defaults"].items():
            node = node_at(root, path) or {}
            f.expect("default" in node and node["default"] == value,
                     "%s: %s should default to %r, has %r" % (kind, path, value, node.get("default", "none")))
            parent = path.rsplit(".", 1)[0]
            if parent.count(".") >= 1:  # spec.X.field: the object X must default to {} too
                pn = node_at(root, parent) or {}
                f.expect(pn.get("default") == {}, "%s: %s needs default {} so that %s applies when it is left out" % (kind, parent, path))
        for path, values in want["enums"].items():
            node = node_at(root, path) or {}
            f.expect(node.get("enum") == values, "%s: %s enum %s, want %s" % (kind, path, node.get("enum"), values))
        for path, alts in want["one_of"].items():
            node = node_at(root, path) or {}
            got = [b.get("required") for b in node.get("oneOf", [])]
            f.expect(got == alts, "%s: %s oneOf %s, want %s" % (kind, path, got, alts))
        sub = v.get("subresources", {})
        f.expect(sub.get("status") == {}, "%s: the status subresource is missing" % kind)
        f.expect(sub.get("scale") == want.get("scale"), "%s: scale subresource %s, want %s" % (kind, sub.get("scale"), want.get("scale")))
        for key in ("specReplicasPath", "statusReplicasPath", "labelSelectorPath"):
            path = (sub.get("scale") or {}).get(key)
            if path:
                node = node_at(root, path.lstrip(".")) or {}
                f.expect(node.get("type") == ("string" if key == "labelSelectorPath" else "integer"),
                         "%s: scale %s %s is not a field of the right type" % (kind, key, path))
        name = node_at(root, "metadata.name") or {}
        f.expect(name.get("maxLength") == 63 and name.get("pattern"), "%s: metadata.name must be a DNS label (its children carry it)" % kind)
        cond = node_at(root, "status.conditions") or {}
        f.expect(cond.get("x-kubernetes-list-type") == "map" and cond.get("x-kubernetes-list-map-keys") == ["type"],
                 "%s: status.conditions must be a list-map keyed by type" % kind)


# ---- chart --------------------------------------------------------------------------------

def check_chart_crds(f):
    src = sorted(os.listdir(os.path.join(ROOT, "crds")))
    dst = sorted(os.listdir(os.path.join(ROOT, "helm/aios/files/crds")))
    f.expect(src == dst, "helm/aios/files/crds/ holds %s, crds/ holds %s (run scripts/sync-chart-crds.sh)" % (dst, src))
    for fn in set(src) & set(dst):
        with open(os.path.join(ROOT, "crds", fn), "rb") as a, open(os.path.join(ROOT, "helm/aios/files/crds", fn), "rb") as b:
            f.expect(a.read() == b.read(), "helm/aios/files/crds/%s differs from crds/%s (run scripts/sync-chart-crds.sh)" % (fn, fn))
        f.expect(not os.path.islink(os.path.join(ROOT, "helm/aios/files/crds", fn)), "helm/aios/files/crds/%s is a link; keep a copy" % fn)


def values_schema():
    with open(os.path.join(ROOT, "helm/aios/values.schema.json")) as fh:
        return json.load(fh)


BAD_VALUES = [
    ("replicaCount", 0),
    ("replicaCount", "2"),
    ("operator.logLevel", "loud"),
    ("operator.workers", 0),
    ("operator.podSecurity", "baseline"),
    ("operator.watchNamespace", "Not_A_Namespace"),
    ("image.pullPolicy", "Sometimes"),
    ("image.repository", ""),
    ("leaderElection.enabled", "yes"),
    ("metrics.serviceMonitor.interval", "soon"),
    ("metricsPort", 70000),
    ("resources.limits.cpu", "lots"),
    ("workload.serviceAccount.namespaces", ["Bad_NS"]),
    ("crds.install", "no"),
    ("imageRegistry", "https://registry.example.com"),
    ("podDisruptionBudget.maxUnavailable", 0),
    ("networkPolicy.enabled", 1),
    ("replicas", 2),  # unknown key (a typo of replicaCount)
    ("rbac.ownerReferencesPermissionEnforcement", "true"),
    ("demandPort", 0),
    ("gateway.replicas", 0),
    ("gateway.image.repository", ""),
    ("gateway.port", 70000),
    ("gateway.logLevel", "chatty"),
    ("gateway.defaultNamespace", "Not_A_Namespace"),
    ("gateway.service.type", "ExternalName"),
    ("gateway.ingress.enabled", "on"),
    ("gateway.ingress.hosts", [""]),
    ("gateway.resources.requests.memory", "plenty"),
    ("gateway.replica", 2),  # unknown key
]


def set_path(d, path, value):
    parts = path.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def check_chart_metadata(f):
    chart = load_yaml("helm/aios/Chart.yaml")
    f.expect(chart.get("apiVersion") == "v2", "Chart.yaml: apiVersion must be v2 (Helm 3)")
    f.expect(chart.get("name") == "aios", "Chart.yaml: name must be aios")
    f.expect(chart.get("type", "application") == "application", "Chart.yaml: type must be application")
    semver = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$"
    f.expect(re.match(semver, str(chart.get("version", ""))), "Chart.yaml: version must be SemVer 2")
    f.expect(re.match(semver, str(chart.get("appVersion", ""))), "Chart.yaml: appVersion must be a version")
    f.expect(str(chart.get("kubeVersion", "")).startswith(">=1.20"), "Chart.yaml: kubeVersion must allow 1.20")
    f.expect(str(chart.get("description", "")).strip(), "Chart.yaml: description missing")
    for required in ("templates/NOTES.txt", "values.schema.json", "values.yaml", "templates/_helpers.tpl"):
        f.expect(os.path.exists(os.path.join(ROOT, "helm/aios", required)), "helm/aios/%s missing" % required)
    schema = values_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    values = load_yaml("helm/aios/values.yaml")
    errs = list(jsonschema.Draft7Validator(schema).iter_errors(values))
    f.expect(not errs, "values.yaml is invalid against values.schema.json: %s" % "; ".join(e.message for e in errs))
    for path, bad in BAD_VALUES:
        v = copy.deepcopy(values)
        set_path(v, path, bad)
        f.expect(list(jsonschema.Draft7Validator(schema).iter_errors(v)),
                 "values.schema.json accepts %s = %r" % (path, bad))
    # Every value the templates read exists in values.yaml (no silent empty render).
    tdir = os.path.join(ROOT, "helm/aios/templates")
    for fn in sorted(os.path.relpath(os.path.join(dp, n), tdir) for dp, _, ns in os.walk(tdir) for n in ns):
        with open(os.path.join(tdir, fn)) as fh:
            for ref in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", fh.read()):
                d = values
                ok = True
                for part in ref.split("."):
                    if not isinstance(d, dict) or part not in d:
                        ok = False
                        break
                    d = d[part]
                f.expect(ok, "templates/%s reads .Values.%s, which values.yaml does not set" % (fn, ref))


_HELM = []


def helm():
    """Path of the real Helm 3.8.1 (scripts/helm.sh installs and caches it)."""
    if not _HELM:
        _HELM.append(subprocess.run([os.path.join(ROOT, "scripts/helm.sh")], check=True,
                                    stdout=subprocess.PIPE, text=True).stdout.strip())
    return _HELM[0]


class Rendered:
    """`helm template` of helm/aios with VALUES (a full values tree): the objects, and
    NOTES.txt rendered by the same engine (a copy of the chart holding it as a template,
    since `helm template` prints no notes)."""

    def __init__(self, values, release, namespace):
        self.values, self.release, self.namespace = values, release, namespace

    def template(self, chart, extra=()):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as vf:
            json.dump(self.values, vf)
            vf.flush()
            p = subprocess.run([helm(), "template", self.release, chart, "-n", self.namespace, "-f", vf.name] + list(extra),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError("helm template failed: %s" % p.stderr.strip())
        return p.stdout

    def manifests(self):
        return [o for o in yaml.safe_load_all(self.template(os.path.join(ROOT, "helm/aios"))) if o]

    def render(self, name):
        with tempfile.TemporaryDirectory() as d:
            chart = os.path.join(d, "aios")
            shutil.copytree(os.path.join(ROOT, "helm/aios"), chart)
            with open(os.path.join(chart, "templates", name)) as src, open(os.path.join(chart, "templates", "_zz.tpl"), "w") as dst:
                dst.write('{{- define "zz.text" -}}' + src.read() + "{{- end -}}")
            with open(os.path.join(chart, "templates", "zz-text.yaml"), "w") as dst:
                dst.write('text: {{ include "zz.text" . | toJson }}\n')
            out = self.template(chart, ["--show-only", "templates/zz-text.yaml"])
        return yaml.safe_load(out)["text"]


def render(values=None, release="aios", namespace="aios-system", f=None):
    v = load_yaml("helm/aios/values.yaml")
    for path, val in (values or {}).items():
        set_path(v, path, val)
    if f is not None:
        errs = list(jsonschema.Draft7Validator(values_schema()).iter_errors(v))
        f.expect(not errs, "values %s invalid: %s" % (values, "; ".join(e.message for e in errs)))
    r = Rendered(v, release, namespace)
    return r, r.manifests()


def check_helm_lint(f):
    """`helm lint` of the chart, with the default values and with the optional parts on: no
    error (its one warning, PodDisruptionBudget policy/v1beta1, is the API Kubernetes 1.20
    serves; the template picks policy/v1 where the cluster has it)."""
    for extra in ([], ["--set", "networkPolicy.enabled=true,metrics.serviceMonitor.enabled=true,grafana.dashboard.enabled=true"]):
        p = subprocess.run([helm(), "lint", os.path.join(ROOT, "helm/aios")] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        f.expect(p.returncode == 0 and "[ERROR]" not in p.stdout, "helm lint %s failed:\n%s" % (" ".join(extra), p.stdout))


def by_kind(objs, kind, component=None):
    """Objects of kind; with component, only those labelled app.kubernetes.io/component so
    (the operator's and the gateway's ClusterRoles, Deployments and Services sit side by side)."""
    return [o for o in objs if o.get("kind") == kind and (component is None or
            (o.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component") == component)]


def container(objs, component="operator"):
    dep = by_kind(objs, "Deployment", component)[0]
    return dep, dep["spec"]["template"]["spec"]["containers"][0]


def metrics_service(objs):
    return [o for o in by_kind(objs, "Service", "operator") if o["metadata"]["name"].endswith("-metrics")][0]


def check_chart_render(f):
    r, objs = render(f=f)
    kinds = sorted(o["kind"] for o in objs)
    want = sorted(["ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding",
                   "CustomResourceDefinition", "CustomResourceDefinition", "Deployment", "Deployment", "Pod",
                   "PodDisruptionBudget", "PodDisruptionBudget", "Role", "RoleBinding", "Service", "Service",
                   "Service", "ServiceAccount", "ServiceAccount", "ServiceAccount"])
    f.expect(kinds == want, "default render gives %s, want %s" % (kinds, want))
    for o in objs:
        f.expect(o.get("apiVersion") and o.get("metadata", {}).get("name"), "object without apiVersion or name: %s" % o)
    dep, c = container(objs)
    sa_names = {o["metadata"]["name"] for o in by_kind(objs, "ServiceAccount")}
    f.expect(dep["spec"]["template"]["spec"]["serviceAccountName"] in sa_names, "Deployment runs as a ServiceAccount the chart does not create")
    sel = dep["spec"]["selector"]["matchLabels"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    f.expect(all(pod_labels.get(k) == v for k, v in sel.items()), "Deployment selector does not match its pod labels")
    svc = metrics_service(objs)
    f.expect(all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items()), "metrics Service selects no operator pod")
    port_names = {p["name"] for p in c["ports"]}
    f.expect(all(p["targetPort"] in port_names for p in svc["spec"]["ports"]), "metrics Service targets a port the container lacks")
    f.expect(c["image"] == "aios/operator:0.1.0", "image %s, want aios/operator:<appVersion>" % c["image"])
    crb = by_kind(objs, "ClusterRoleBinding", "operator")[0]
    f.expect(crb["roleRef"]["name"] == by_kind(objs, "ClusterRole", "operator")[0]["metadata"]["name"], "ClusterRoleBinding names another ClusterRole")
    f.expect(crb["subjects"][0]["namespace"] == "aios-system", "ClusterRoleBinding subject not in the release namespace")
    notes = r.render("NOTES.txt")
    f.expect("aios-system" in notes and "kubectl" in notes, "NOTES.txt does not tell the user what to do next")

    # ServiceMonitor only when asked.
    _, objs2 = render({"metrics.serviceMonitor.enabled": True, "metrics.serviceMonitor.labels": {"release": "prom"}}, f=f)
    sm = by_kind(objs2, "ServiceMonitor")
    if f.expect(len(sm) == 1, "serviceMonitor.enabled renders %d ServiceMonitors" % len(sm)):
        f.expect(sm[0]["spec"]["endpoints"][0]["port"] == "metrics", "ServiceMonitor scrapes the wrong port")
        f.expect(sm[0]["metadata"]["labels"].get("release") == "prom", "ServiceMonitor labels not applied")
    # No metrics Service: no ServiceMonitor either.
    _, objs3 = render({"metrics.service.enabled": False, "metrics.serviceMonitor.enabled": True}, f=f)
    f.expect(not [o for o in by_kind(objs3, "Service") if o["metadata"]["name"].endswith("-metrics")] and not by_kind(objs3, "ServiceMonitor"),
             "metrics.service.enabled=false still renders a metrics Service or ServiceMonitor")
    # Leader election off: no Role, no flag.
    _, objs4 = render({"leaderElection.enabled": False}, f=f)
    _, c4 = container(objs4)
    f.expect(not by_kind(objs4, "Role") and "--leader-elect" not in c4["args"], "leaderElection.enabled=false still renders the Lease Role or --leader-elect")
    # One watched namespace, another log level, more workers, a pinned tag.
    _, objs5 = render({"operator.watchNamespace": "ml", "operator.logLevel": "debug", "operator.workers": 4,
                       "operator.podSecurity": "privileged", "image.tag": "0.2.0", "replicaCount": 2}, f=f)
    d5, c5 = container(objs5)
    for arg in ("--namespace=ml", "--log-level=debug", "--workers=4", "--pod-security=privileged"):
        f.expect(arg in c5["args"], "args %s lack %s" % (c5["args"], arg))
    f.expect(c5["image"] == "aios/operator:0.2.0", "image.tag not applied: %s" % c5["image"])
    f.expect(d5["spec"]["replicas"] == 2, "replicaCount not applied")
    # Another release name: every name follows, references stay consistent.
    _, objs6 = render(release="prod", namespace="ml-platform", f=f)
    d6, _ = container(objs6)
    f.expect(d6["metadata"]["name"] == "prod-aios-operator", "release prod names the Deployment %s" % d6["metadata"]["name"])
    crb6 = by_kind(objs6, "ClusterRoleBinding", "operator")[0]
    f.expect(crb6["subjects"][0] == {"kind": "ServiceAccount", "name": "prod-aios-operator", "namespace": "ml-platform"},
             "release prod binds %s" % crb6["subjects"][0])
    # OpenShift-style clusters: the finalizers rule, and only then.
    _, objs9 = render({"rbac.ownerReferencesPermissionEnforcement": True}, f=f)
    rules9 = rule_set(by_kind(objs9, "ClusterRole", "operator")[0]["rules"])
    f.expect(("aios.dev/trainingjobs/finalizers", "update") in rules9, "rbac.ownerReferencesPermissionEnforcement adds no finalizers rule")
    f.expect(not [r for r, _ in rule_set(by_kind(objs, "ClusterRole", "operator")[0]["rules"]) if r.endswith("/finalizers")],
             "the default ClusterRole grants finalizers")
    # CRDs: rendered (so they upgrade), kept on uninstall, skipped on request.
    crds = by_kind(objs, "CustomResourceDefinition")
    f.expect(sorted(c["metadata"]["name"] for c in crds) == ["modelservices.aios.dev", "trainingjobs.aios.dev"], "CRDs rendered: %s" % [c["metadata"]["name"] for c in crds])
    f.expect(all(x["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep" for x in crds), "CRDs lack helm.sh/resource-policy: keep")
    for crd_ in crds:
        f.expect(crd_["spec"] == load_yaml("crds/" + crd_["metadata"]["name"] + ".yaml")["spec"], "rendered CRD %s differs from crds/" % crd_["metadata"]["name"])
    _, objs10 = render({"crds.install": False}, f=f)
    f.expect(not by_kind(objs10, "CustomResourceDefinition"), "crds.install=false still renders CRDs")
    _, objs10 = render({"crds.keep": False}, f=f)
    f.expect(not [x for x in by_kind(objs10, "CustomResourceDefinition") if x["metadata"].get("annotations")], "crds.keep=false still annotates the CRDs")
    # One registry for the images, from imageRegistry or global.imageRegistry.
    for vals in ({"imageRegistry": "registry.example.com:5000/ml"}, {"global": {"imageRegistry": "registry.example.com:5000/ml"}}):
        _, objs11 = render(vals, f=f)
        imgs = sorted({c2["image"] for o in objs11 if o["kind"] in ("Deployment", "Pod")
                       for c2 in (o["spec"]["template"]["spec"] if o["kind"] == "Deployment" else o["spec"])["containers"]})
        f.expect(imgs == ["registry.example.com:5000/ml/aios/gateway:0.1.0", "registry.example.com:5000/ml/aios/operator:0.1.0"],
                 "%s gives images %s" % (vals, imgs))
    # Security contexts: the defaults, and overridable.
    pod_sc = dep["spec"]["template"]["spec"]["securityContext"]
    f.expect(pod_sc.get("runAsUser") == 65532 and pod_sc.get("runAsNonRoot") is True, "pod securityContext %s" % pod_sc)
    f.expect(c["securityContext"].get("readOnlyRootFilesystem") is True, "container securityContext %s" % c["securityContext"])
    # (Helm merges a user's maps into the defaults; null removes a key: OpenShift's
    # restricted SCC assigns the UID itself.)
    _, objs12 = render({"podSecurityContext": {"runAsNonRoot": True, "runAsUser": None, "runAsGroup": None, "fsGroup": 2000},
                        "securityContext": {"readOnlyRootFilesystem": True, "privileged": False}}, f=f)
    d12, c12 = container(objs12)
    psc12 = d12["spec"]["template"]["spec"]["securityContext"]
    f.expect(psc12.get("fsGroup") == 2000 and "runAsUser" not in psc12 and "runAsGroup" not in psc12, "podSecurityContext not applied: %s" % psc12)
    f.expect(c12["securityContext"].get("privileged") is False, "securityContext not applied: %s" % c12["securityContext"])
    # PodDisruptionBudget on by default, selecting the operator's pods; NetworkPolicy on request.
    pdb = by_kind(objs, "PodDisruptionBudget", "operator")
    if f.expect(len(pdb) == 1, "%d operator PodDisruptionBudgets by default" % len(pdb)):
        f.expect(all(pod_labels.get(k) == v for k, v in pdb[0]["spec"]["selector"]["matchLabels"].items()), "PodDisruptionBudget selects no operator pod")
    _, objs13 = render({"podDisruptionBudget.enabled": False, "networkPolicy.enabled": True}, f=f)
    f.expect(not by_kind(objs13, "PodDisruptionBudget"), "podDisruptionBudget.enabled=false still renders one")
    np_ = by_kind(objs13, "NetworkPolicy")
    if f.expect(len(np_) == 1 and not by_kind(objs, "NetworkPolicy"), "networkPolicy: %d rendered when enabled, %d by default" % (len(np_), len(by_kind(objs, "NetworkPolicy")))):
        ing = np_[0]["spec"]["ingress"]
        f.expect(len(ing) == 2 and sorted(p["port"] for p in ing[0]["ports"]) == ["health", "metrics"], "NetworkPolicy admits %s" % ing)
        gw_labels = by_kind(objs13, "Deployment", "gateway")[0]["spec"]["template"]["metadata"]["labels"]
        f.expect(len(ing) == 2 and [p["port"] for p in ing[1]["ports"]] == ["demand"] and
                 all(gw_labels.get(k) == v for k, v in ing[1]["from"][0]["podSelector"]["matchLabels"].items()),
                 "NetworkPolicy must admit the demand port from the gateway pods: %s" % ing)
    # The helm test pod: the operator image as the operator's ServiceAccount.
    tp = [o for o in by_kind(objs, "Pod") if o["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    if f.expect(len(tp) == 1, "%d helm test pods" % len(tp)):
        f.expect(tp[0]["spec"]["serviceAccountName"] == dep["spec"]["template"]["spec"]["serviceAccountName"], "helm test pod runs as another ServiceAccount")
    _, objs14 = render({"tests.enabled": False}, f=f)
    f.expect(not by_kind(objs14, "Pod"), "tests.enabled=false still renders the test pod")
    # Workload ServiceAccounts: one per listed namespace, none when create is false.
    _, objs7 = render({"workload.serviceAccount.namespaces": ["team-a", "team-b"]}, f=f)
    ws = sorted(o["metadata"]["namespace"] for o in by_kind(objs7, "ServiceAccount") if o["metadata"]["name"] == "aios-workload")
    f.expect(ws == ["team-a", "team-b"], "workload ServiceAccounts in %s" % ws)
    _, objs8 = render({"workload.serviceAccount.create": False}, f=f)
    f.expect(not [o for o in by_kind(objs8, "ServiceAccount") if o["metadata"]["name"] == "aios-workload"], "workload.serviceAccount.create=false still creates one")
    for o in by_kind(objs7, "ServiceAccount"):
        if o["metadata"]["name"] == "aios-workload":
            f.expect(o.get("automountServiceAccountToken") is False, "aios-workload mounts an API token")


# ---- operator/ and agreement --------------------------------------------------------------

def kustomize_objects():
    k = load_yaml("operator/kustomization.yaml")
    objs = []
    for res in k["resources"]:
        objs += load_all(os.path.join("operator", res))
    return k, objs


LEAST = {  # resource -> verbs the operator may hold (issue 3: the fewest that work)
    "aios.dev/trainingjobs": {"get", "list", "watch", "delete"},
    "aios.dev/modelservices": {"get", "list", "watch"},
    "aios.dev/trainingjobs/status": {"update"},
    "aios.dev/trainingjobs/finalizers": {"update"},
    "aios.dev/modelservices/finalizers": {"update"},
    "aios.dev/modelservices/status": {"update", "patch"},
    "/pods": {"list", "watch", "create", "delete"},
    "/services": {"get", "list", "watch", "create", "update", "patch", "delete"},
    "/events": {"create", "patch"},
    "/configmaps": {"create"},
    "/secrets": {"create"},
    "coordination.k8s.io/leases": {"get", "create", "update"},
}


# What aios-gateway may hold: it reads ModelServices and Endpoints (src/gateway/watch.c),
# as docs/gateway.md says; tests/integration/test_rbac_gateway.c proves each verb.
GATEWAY_RULES = {("aios.dev/modelservices", v) for v in ("list", "watch")} | \
                {("/endpoints", v) for v in ("list", "watch")}


def rule_set(rules):
    """{(group/resource, verb)} of a rules list, for order-free comparison."""
    out = set()
    for r in rules:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    out.add(("%s/%s" % (g, res), v))
    return out


def check_kustomize(f):
    k, objs = kustomize_objects()
    files = sorted(fn for fn in os.listdir(os.path.join(ROOT, "operator")) if fn.endswith(".yaml") and fn != "kustomization.yaml")
    f.expect(sorted(k["resources"]) == files, "kustomization.yaml lists %s, operator/ holds %s" % (sorted(k["resources"]), files))
    f.expect(k.get("apiVersion") == "kustomize.config.k8s.io/v1beta1" and k.get("kind") == "Kustomization", "kustomization.yaml: wrong apiVersion/kind")
    f.expect(set(k) <= {"apiVersion", "kind", "resources", "images"}, "kustomization.yaml uses fields kubectl 1.20's kustomize may not know: %s" % sorted(set(k)))
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for o in objs:
        if o["kind"] not in cluster_scoped:
            f.expect(o["metadata"].get("namespace"), "%s/%s names no namespace" % (o["kind"], o["metadata"]["name"]))
    kinds = sorted(o["kind"] for o in objs)
    for want in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"):
        f.expect(want in kinds, "operator/ has no %s" % want)
    ns = by_kind(objs, "Namespace")
    f.expect(ns and ns[0]["metadata"]["name"] == "aios-system", "operator/ must create namespace aios-system")
    # RBAC: no wildcard, nothing beyond the least-privilege table (the gateway's: below).
    for o in by_kind(objs, "ClusterRole", "operator") + by_kind(objs, "Role", "operator"):
        for res, verb in rule_set(o["rules"]):
            f.expect("*" not in res and verb != "*", "%s %s grants a wildcard" % (o["kind"], o["metadata"]["name"]))
            f.expect(verb in LEAST.get(res, set()), "%s %s grants %s on %s, beyond least privilege" % (o["kind"], o["metadata"]["name"], verb, res))
    cr = rule_set(by_kind(objs, "ClusterRole", "operator")[0]["rules"])
    for must in [("aios.dev/trainingjobs", "watch"), ("aios.dev/modelservices", "watch"), ("aios.dev/trainingjobs/status", "update"),
                 ("aios.dev/modelservices/status", "update"), ("/pods", "create"), ("/pods", "delete"), ("/services", "create"),
                 ("/events", "create")]:
        f.expect(must in cr, "ClusterRole lacks %s %s" % (must[1], must[0]))
    f.expect(all(not r.startswith("coordination") for r, _ in cr), "Leases belong in the namespaced Role, not the ClusterRole")
    role = by_kind(objs, "Role")
    f.expect(role and role[0]["metadata"]["namespace"] == "aios-system" and ("coordination.k8s.io/leases", "update") in rule_set(role[0]["rules"]),
             "leader election Role must grant leases update in aios-system")
    for b in by_kind(objs, "ClusterRoleBinding", "operator") + by_kind(objs, "RoleBinding", "operator"):
        f.expect(b["subjects"] == [{"kind": "ServiceAccount", "name": "aios-operator", "namespace": "aios-system"}],
                 "%s %s binds %s" % (b["kind"], b["metadata"]["name"], b["subjects"]))
    # The Deployment: image, flags, probes, ports, resources, security.
    dep, c = container(objs)
    pod = dep["spec"]["template"]["spec"]
    f.expect(c["image"] == "aios/operator:0.1.0", "operator image %s" % c["image"])
    f.expect(pod["serviceAccountName"] == "aios-operator", "Deployment runs as %s" % pod.get("serviceAccountName"))
    f.expect("--leader-elect" in c["args"], "operator runs without --leader-elect")
    f.expect("--metrics-bind-address=:8080" in c["args"] and "--health-probe-bind-address=:8081" in c["args"]
             and "--demand-bind-address=:8082" in c["args"], "metrics/health/demand ports not 8080/8081/8082")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    f.expect(ports == {"metrics": 8080, "health": 8081, "demand": 8082}, "container ports %s" % ports)
    f.expect(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}, "liveness probe must GET /healthz on the health port")
    f.expect(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}, "readiness probe must GET /readyz on the health port")
    f.expect(c.get("resources", {}).get("requests") and c["resources"].get("limits"), "operator needs resource requests and limits")
    sc = c.get("securityContext", {})
    f.expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation must be false")
    f.expect(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem must be true")
    f.expect(sc.get("runAsNonRoot") is True or pod.get("securityContext", {}).get("runAsNonRoot") is True, "must run as non-root")
    f.expect(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities must drop ALL")
    f.expect((sc.get("seccompProfile") or pod.get("securityContext", {}).get("seccompProfile", {})).get("type") == "RuntimeDefault", "seccomp must be RuntimeDefault")
    svc = metrics_service(objs)
    f.expect(svc["spec"]["ports"][0]["port"] == 8080 and svc["spec"]["ports"][0]["targetPort"] == "metrics", "metrics Service must expose 8080 -> metrics")
    f.expect(all(pod_l == dep["spec"]["template"]["metadata"]["labels"].get(k) for k, pod_l in svc["spec"]["selector"].items()), "metrics Service selects no operator pod")
    wl = [o for o in by_kind(objs, "ServiceAccount") if o["metadata"]["name"] == "aios-workload"]
    f.expect(wl and wl[0].get("automountServiceAccountToken") is False, "aios-workload must exist without a mounted token")
    f.expect(not [b for b in by_kind(objs, "ClusterRoleBinding") + by_kind(objs, "RoleBinding")
                  if any(s["name"] == "aios-workload" for s in b["subjects"])], "aios-workload must have no rights")


def rbac_md_rules():
    """{(group/resource, verb)} of the table in src/operator/RBAC.md."""
    out = set()
    with open(os.path.join(ROOT, "src/operator/RBAC.md")) as fh:
        for line in fh:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3 or not cells[0].startswith("`"):
                continue
            group = cells[0].strip("`").replace('""', "")
            resource = cells[1].split("(")[0].strip().strip("`")
            for verb in cells[2].split(","):
                out.add(("%s/%s" % (group, resource), verb.strip()))
    return out


def check_rbac_sync(f):
    want = rbac_md_rules()
    if not f.expect(want, "src/operator/RBAC.md holds no rules table"):
        return
    _, objs = kustomize_objects()
    got = set()
    for o in by_kind(objs, "ClusterRole", "operator") + by_kind(objs, "Role", "operator"):
        got |= rule_set(o["rules"])
    f.expect(got == want, "operator/ RBAC differs from src/operator/RBAC.md: granted but not listed %s; listed but not granted %s"
             % (sorted(got - want), sorted(want - got)))


def check_chart_agrees(f):
    _, kobjs = kustomize_objects()
    _, hobjs = render(f=f)
    # what only the chart has: the CRDs (operator/ leaves them to kubectl apply -f crds/),
    # the PodDisruptionBudget and the helm test pod
    chart_only = ("Namespace", "CustomResourceDefinition", "PodDisruptionBudget", "Pod")
    ident = lambda objs: sorted((o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", "")) for o in objs if o["kind"] not in chart_only)
    f.expect(ident(kobjs) == ident(hobjs), "objects differ:\n  operator/: %s\n  chart:     %s" % (ident(kobjs), ident(hobjs)))
    # Each role, binding, Deployment and Service is matched by name: there are several.
    named = lambda objs, kind: {o["metadata"]["name"]: o for o in by_kind(objs, kind)}
    for kind in ("ClusterRole", "Role"):
        k, h = named(kobjs, kind), named(hobjs, kind)
        f.expect(len(k) >= 1 and sorted(k) == sorted(h), "%ss: operator/ %s, chart %s" % (kind, sorted(k), sorted(h)))
        for name in sorted(set(k) & set(h)):
            kr, hr = rule_set(k[name]["rules"]), rule_set(h[name]["rules"])
            f.expect(kr == hr, "%s %s rules differ: only in operator/ %s, only in chart %s" % (kind, name, sorted(kr - hr), sorted(hr - kr)))
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        k, h = named(kobjs, kind), named(hobjs, kind)
        for name in sorted(set(k) & set(h)):
            f.expect(k[name]["roleRef"] == h[name]["roleRef"] and k[name]["subjects"] == h[name]["subjects"], "%s %s differs" % (kind, name))
    for component in ("operator", "gateway"):
        kd, kc = container(kobjs, component)
        hd, hc = container(hobjs, component)
        for key in ("image", "args", "env", "ports", "livenessProbe", "readinessProbe", "resources", "securityContext"):
            f.expect(kc.get(key) == hc.get(key), "%s container %s differs:\n  operator/: %s\n  chart:     %s" % (component, key, kc.get(key), hc.get(key)))
        for key in ("securityContext", "serviceAccountName", "terminationGracePeriodSeconds"):
            f.expect(kd["spec"]["template"]["spec"].get(key) == hd["spec"]["template"]["spec"].get(key), "%s pod %s differs" % (component, key))
        f.expect(kd["spec"]["replicas"] == hd["spec"]["replicas"], "%s replicas differ" % component)
    k, h = named(kobjs, "Service"), named(hobjs, "Service")
    for name in sorted(set(k) & set(h)):
        f.expect(k[name]["spec"]["ports"] == h[name]["spec"]["ports"], "Service %s ports differ" % name)


def check_gateway_objects(f, objs, where, ns, prefix):
    """The gateway's Deployment, Service, ServiceAccount, ClusterRole and binding in objs,
    and the operator's demand Service its --operator-url names."""
    gw = prefix + "gateway"
    deps = by_kind(objs, "Deployment", "gateway")
    if not f.expect(len(deps) == 1, "%s: %d gateway Deployments" % (where, len(deps))):
        return
    dep, c = container(objs, "gateway")
    pod = dep["spec"]["template"]["spec"]
    f.expect(dep["metadata"]["name"] == gw and dep["metadata"]["namespace"] == ns, "%s: gateway Deployment %s/%s" % (where, dep["metadata"].get("namespace"), dep["metadata"]["name"]))
    f.expect(dep["spec"]["replicas"] >= 2, "%s: gateway runs %d replicas, want at least 2" % (where, dep["spec"]["replicas"]))
    f.expect(c["image"].endswith("aios/gateway:0.1.0"), "%s: gateway image %s" % (where, c["image"]))
    f.expect(pod["serviceAccountName"] == gw and [o for o in by_kind(objs, "ServiceAccount") if o["metadata"]["name"] == gw and o["metadata"]["namespace"] == ns],
             "%s: the gateway runs as %s, which must exist in %s" % (where, pod.get("serviceAccountName"), ns))
    # --operator-url names the operator's demand Service, its namespace and port
    urls = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--operator-url=")]
    demand = [o for o in by_kind(objs, "Service", "operator") if any(p.get("name") == "demand" for p in o["spec"]["ports"])]
    if f.expect(len(urls) == 1 and len(demand) == 1, "%s: gateway --operator-url %s, demand Services %d" % (where, urls, len(demand))):
        d = demand[0]
        want = "ws://%s.%s.svc:%d/" % (d["metadata"]["name"], d["metadata"]["namespace"], d["spec"]["ports"][0]["port"])
        f.expect(urls[0] == want, "%s: --operator-url %s, the demand Service is %s" % (where, urls[0], want))
        _, oc = container(objs, "operator")
        oports = {p["name"]: p["containerPort"] for p in oc["ports"]}
        f.expect(d["spec"]["ports"][0]["targetPort"] == "demand" and "--demand-bind-address=:%d" % oports.get("demand", 0) in oc["args"],
                 "%s: the demand Service targets no port the operator listens on (%s, %s)" % (where, oports, oc["args"]))
        olabels = container(objs, "operator")[0]["spec"]["template"]["metadata"]["labels"]
        f.expect(all(olabels.get(k) == v for k, v in d["spec"]["selector"].items()), "%s: the demand Service selects no operator pod" % where)
    gport = {p["name"]: p["containerPort"] for p in c["ports"]}
    f.expect("--port=%d" % gport.get("http", 0) in c["args"], "%s: gateway --port does not match its http port %s" % (where, gport))
    f.expect(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"} and c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"},
             "%s: gateway probes %s %s" % (where, c["readinessProbe"], c["livenessProbe"]))
    f.expect(c.get("resources", {}).get("requests") and c["resources"].get("limits"), "%s: the gateway needs resource requests and limits" % where)
    _, oc = container(objs, "operator")
    f.expect(c.get("securityContext") == oc.get("securityContext") and pod.get("securityContext") == container(objs, "operator")[0]["spec"]["template"]["spec"].get("securityContext"),
             "%s: the gateway's security contexts differ from the operator's" % where)
    svc = [o for o in by_kind(objs, "Service", "gateway")]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if f.expect(len(svc) == 1, "%s: %d gateway Services" % (where, len(svc))):
        f.expect(svc[0]["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}], "%s: gateway Service ports %s" % (where, svc[0]["spec"]["ports"]))
        f.expect(all(labels.get(k) == v for k, v in svc[0]["spec"]["selector"].items()), "%s: the gateway Service selects no gateway pod" % where)
    # its role: exactly the reads it makes, bound to its ServiceAccount only
    roles = by_kind(objs, "ClusterRole", "gateway")
    if f.expect(len(roles) == 1 and not by_kind(objs, "Role", "gateway"), "%s: %d gateway ClusterRoles" % (where, len(roles))):
        got = rule_set(roles[0]["rules"])
        f.expect(got == GATEWAY_RULES, "%s: gateway ClusterRole grants %s beyond, lacks %s" % (where, sorted(got - GATEWAY_RULES), sorted(GATEWAY_RULES - got)))
    crb = by_kind(objs, "ClusterRoleBinding", "gateway")
    if f.expect(len(crb) == 1, "%s: %d gateway ClusterRoleBindings" % (where, len(crb))):
        f.expect(crb[0]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": gw} and
                 crb[0]["subjects"] == [{"kind": "ServiceAccount", "name": gw, "namespace": ns}], "%s: gateway binding %s" % (where, crb[0]))
    # and the gateway's ServiceAccount holds nothing else
    f.expect(not [b for b in by_kind(objs, "ClusterRoleBinding") + by_kind(objs, "RoleBinding") if b not in crb
                  and any(s_["name"] == gw for s_ in b["subjects"])], "%s: %s is bound to more than its ClusterRole" % (where, gw))


def check_gateway(f):
    _, kobjs = kustomize_objects()
    check_gateway_objects(f, kobjs, "operator/", "aios-system", "aios-")
    _, hobjs = render(f=f)
    check_gateway_objects(f, hobjs, "chart", "aios-system", "aios-")
    _, pobjs = render(release="prod", namespace="ml-platform", f=f)
    check_gateway_objects(f, pobjs, "chart (release prod)", "ml-platform", "prod-aios-")
    # values: replicas, image, resources, a watched namespace; off; an Ingress on request
    _, o1 = render({"gateway.replicas": 3, "gateway.image.tag": "0.2.0", "gateway.logLevel": "debug",
                    "operator.watchNamespace": "ml", "gateway.resources.limits.memory": "1Gi"}, f=f)
    d1, c1 = container(o1, "gateway")
    f.expect(d1["spec"]["replicas"] == 3 and c1["image"] == "aios/gateway:0.2.0" and c1["resources"]["limits"]["memory"] == "1Gi",
             "gateway values not applied: %s %s %s" % (d1["spec"]["replicas"], c1["image"], c1["resources"]))
    for arg in ("--namespace=ml", "--log-level=debug"):
        f.expect(arg in c1["args"], "gateway args %s lack %s" % (c1["args"], arg))
    f.expect(not by_kind(hobjs, "Ingress"), "an Ingress renders by default")
    _, o2 = render({"gateway.ingress.enabled": True, "gateway.ingress.className": "nginx",
                    "gateway.ingress.hosts": ["*.team-a.models.example.com"]}, f=f)
    ing = by_kind(o2, "Ingress")
    if f.expect(len(ing) == 1, "gateway.ingress.enabled renders %d Ingresses" % len(ing)):
        rule = ing[0]["spec"]["rules"][0]
        f.expect(ing[0]["spec"].get("ingressClassName") == "nginx" and rule["host"] == "*.team-a.models.example.com" and
                 rule["http"]["paths"][0]["backend"]["service"] == {"name": "aios-gateway", "port": {"name": "http"}},
                 "Ingress %s" % ing[0]["spec"])
    _, o3 = render({"gateway.enabled": False}, f=f)
    f.expect(not [o for o in o3 if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "gateway"],
             "gateway.enabled=false still renders gateway objects")


# ---- Grafana dashboard --------------------------------------------------------------------
# The dashboard's queries are checked by tests/unit/dashboard; here, that the chart ships it.

DASHBOARD = "dashboards/aios-overview.json"


def check_dashboard(f):
    with open(os.path.join(ROOT, "helm/aios", DASHBOARD)) as fh:
        dash = json.load(fh)
    _, objs = render({"grafana.dashboard.enabled": True}, f=f)
    cms = by_kind(objs, "ConfigMap")
    if f.expect(len(cms) == 1, "grafana.dashboard.enabled renders %d ConfigMaps" % len(cms)):
        f.expect(cms[0]["metadata"]["labels"].get("grafana_dashboard") == "1", "dashboard ConfigMap lacks the sidecar label")
        data = cms[0].get("data", {})
        f.expect(list(data) == [os.path.basename(DASHBOARD)], "dashboard ConfigMap holds %s" % list(data))
        f.expect(json.loads(next(iter(data.values()), "null")) == dash, "dashboard ConfigMap does not hold %s" % DASHBOARD)
    _, objs0 = render(f=f)
    f.expect(not by_kind(objs0, "ConfigMap"), "the dashboard ConfigMap renders by default")


# ---- examples and docs --------------------------------------------------------------------

def check_examples(f):
    d = os.path.join(ROOT, "examples")
    seen = {"TrainingJob": 0, "ModelService": 0}
    validators = {k: jsonschema.Draft4Validator(strip_k8s(closed(schema_of(k)))) for k in CRD_FILES}
    for fn in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not fn.endswith(".yaml"):
            continue
        for doc in load_all(os.path.join("examples", fn)):
            kind = doc.get("kind")
            if kind not in CRD_FILES or not str(doc.get("apiVersion", "")).startswith("aios.dev/"):
                continue
            seen[kind] += 1
            f.expect(doc["apiVersion"] == "aios.dev/v1alpha1", "examples/%s: apiVersion %s" % (fn, doc["apiVersion"]))
            for e in validators[kind].iter_errors(doc):
                f.add("examples/%s: %s: %s" % (fn, ".".join(str(p) for p in e.absolute_path), e.message))
    f.expect(seen["ModelService"] >= 2, "examples/ holds %d ModelServices, want at least 2" % seen["ModelService"])


def check_api_reference(f):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/gen-api-reference.py"), "--check"],
                       capture_output=True, text=True)
    f.expect(r.returncode == 0, "docs/api-reference.md: %s" % (r.stderr.strip() or "generator failed"))


CHECKS = {
    "crd-structure": check_crd_structure,
    "crd-contract": check_crd_contract,
    "chart-crds": check_chart_crds,
    "chart-metadata": check_chart_metadata,
    "helm-lint": check_helm_lint,
    "chart-render": check_chart_render,
    "chart-agrees": check_chart_agrees,
    "kustomize": check_kustomize,
    "gateway": check_gateway,
    "rbac-sync": check_rbac_sync,
    "dashboard": check_dashboard,
    "examples": check_examples,
    "api-reference": check_api_reference,
}


def main(argv):
    if argv[1:2] == ["render"] and len(argv) in (2, 4):
        _, objs = render(release=argv[2], namespace=argv[3]) if len(argv) == 4 else render()
        # The release's objects as `helm install` applies them: hooks (the `helm test` pod)
        # are created later, by Helm, once the release's ServiceAccount exists.
        objs = [o for o in objs if "helm.sh/hook" not in (o.get("metadata", {}).get("annotations") or {})]
        sys.stdout.write(yaml.safe_dump_all(objs, sort_keys=False))
        return 0
    if len(argv) != 2 or (argv[1] not in CHECKS and argv[1] != "all"):
        sys.stderr.write(__doc__)
        return 2
    names = list(CHECKS) if argv[1] == "all" else [argv[1]]
    bad = 0
    for name in names:
        f = Failures()
        try:
            CHECKS[name](f)
        except (RuntimeError, subprocess.CalledProcessError, KeyError, IndexError, TypeError, OSError, yaml.YAMLError) as e:
            f.add("%s crashed: %s: %s" % (name, type(e).__name__, e))
        for msg in f.items:
            print("FAIL %s: %s" % (name, msg))
        print("%s %s (%d problems)" % ("ok  " if not f.items else "FAIL", name, len(f.items)))
        bad += bool(f.items)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
