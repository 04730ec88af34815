#!/usr/bin/python3
"""Generates docs/api-reference.md from the CRDs in crds/ (their OpenAPI schemas).

    scripts/gen-api-reference.py           write docs/api-reference.md
    scripts/gen-api-reference.py --check   exit 1 when docs/api-reference.md is stale

The CRD YAML is the one source of truth: every field's type, default, validation and
description in the reference comes from it, so the doc cannot drift from what the API
server enforces (tests/unit/manifests runs --check). Needs Debian's python3-yaml.
"""
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRDS = ["trainingjobs.aios.dev.yaml", "modelservices.aios.dev.yaml"]
OUT = os.path.join(ROOT, "docs", "api-reference.md")


def type_of(s):
    """A short type name: string, integer, []number, map[string]string, int-or-string..."""
    if s.get("x-kubernetes-int-or-string"):
        return "int-or-string"
    t = s.get("type", "")
    if t == "array":
        keys = s.get("x-kubernetes-list-map-keys")
        keyed = " (a map keyed by %s)" % ", ".join(keys) if s.get("x-kubernetes-list-type") == "map" and keys else ""
        return "[]" + type_of(s.get("items", {})) + keyed
    if t == "object":
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            return "map[string]" + type_of(ap)
        if s.get("x-kubernetes-preserve-unknown-fields") and not s.get("properties"):
            return "object (free-form)"
        return "object"
    if t == "integer" and s.get("format") == "int64":
        return "integer (int64)"
    if s.get("format") == "date-time":
        return "string (date-time)"
    return t


def fmt_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, (dict, list)):
        return "`%s`" % yaml.safe_dump(v, default_flow_style=True).strip()
    return str(v)


def rules_of(s):
    """Validation written by the schema, in words."""
    return "; ".join(rule_list(s))


def rule_list(s):
    out = []
    if "enum" in s:
        out.append("one of " + ", ".join("`%s`" % e for e in s["enum"]))
    if "minimum" in s:
        out.append(("> %s" if s.get("exclusiveMinimum") else ">= %s") % s["minimum"])
    if "maximum" in s:
        out.append(("< %s" if s.get("exclusiveMaximum") else "<= %s") % s["maximum"])
    if "minLength" in s:
        out.append("length >= %d" % s["minLength"])
    if "maxLength" in s:
        out.append("length <= %d" % s["maxLength"])
    if "pattern" in s:
        out.append("matches `%s`" % s["pattern"].replace("|", "\\|"))
    if "minItems" in s:
        out.append("items >= %d" % s["minItems"])
    if "maxItems" in s:
        out.append("items <= %d" % s["maxItems"])
    if "minProperties" in s:
        out.append("fields >= %d" % s["minProperties"])
    items = s.get("items")
    if isinstance(items, dict) and items.get("type") not in ("object", "array", None):
        sub = rule_list(items)
        if sub:
            out.append("each item " + ", ".join(sub))
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        sub = rule_list(ap)
        if sub:
            out.append("each value " + ", ".join(sub))
    return out


def one_line(text):
    return " ".join((text or "").split()).replace("|", "\\|")


def object_rules(s):
    out = []
    if s.get("required"):
        out.append("Required: " + ", ".join("`%s`" % r for r in s["required"]) + ".")
    for key in ("oneOf", "anyOf"):
        if key in s:
            alts = [" + ".join("`%s`" % r for r in b.get("required", [])) for b in s[key]]
            word = "Exactly one of" if key == "oneOf" else "At least one of"
            out.append("%s: %s." % (word, ", ".join(alts)))
    return " ".join(out)


def sections(path, s, out):
    """Appends (path, schema) for s and every object below it, depth first."""
    if s.get("type") == "object" and s.get("properties"):
        out.append((path, s))
        for name, sub in s["properties"].items():
            sections(path + "." + name, sub, out)
    elif s.get("type") == "array" and isinstance(s.get("items"), dict):
        items = s["items"]
        if items.get("type") == "object" and items.get("properties"):
            sections(path + "[]", items, out)
        elif items.get("type") == "array":
            sections(path + "[]", items, out)


def crd_doc(crd):
    spec = crd["spec"]
    names = spec["names"]
    ver = spec["versions"][0]
    root = ver["schema"]["openAPIV3Schema"]
    kind = names["kind"]
    lines = [
        "## %s" % kind,
        "",
        one_line(root.get("description")),
        "",
        "| | |",
        "|---|---|",
        "| API version | `%s/%s` |" % (spec["group"], ver["name"]),
        "| Scope | %s |" % spec["scope"],
        "| Plural, singular | `%s`, `%s` |" % (names["plural"], names["singular"]),
        "| Short names | %s |" % ", ".join("`%s`" % n for n in names.get("shortNames", [])),
        "| Categories | %s |" % ", ".join("`%s`" % n for n in names.get("categories", [])),
        "| Subresources | %s |" % ", ".join("`%s`" % n for n in ver.get("subresources", {})),
    ]
    name = root["properties"].get("metadata", {}).get("properties", {}).get("name")
    if name:
        lines.append("| Names | %s (%s) |" % (one_line(name.get("description")), rules_of(name)))
    lines += [
        "",
        "`kubectl get %s` shows:" % names["shortNames"][0],
        "",
        "| Column | Type | From |",
        "|---|---|---|",
    ]
    for c in ver.get("additionalPrinterColumns", []):
        lines.append("| %s | %s | `%s` |" % (c["name"], c["type"], c["jsonPath"]))
    lines.append("")
    secs = []
    for top in ("spec", "status"):
        if top in root["properties"]:
            sections(top, root["properties"][top], secs)
    for path, s in secs:
        anchor = (kind + "." + path).lower().replace(".", "-").replace("[]", "")
        lines += ["### %s.%s" % (kind, path), "", '<a id="%s"></a>' % anchor, ""]
        if s.get("description"):
            lines += [one_line(s["description"]), ""]
        rules = object_rules(s)
        if rules:
            lines += [rules, ""]
        if s.get("x-kubernetes-list-type") == "map":
            lines += ["A list keyed by %s." % ", ".join("`%s`" % k for k in s.get("x-kubernetes-list-map-keys", [])), ""]
        lines += ["| Field | Type | Default | Validation | Description |", "|---|---|---|---|---|"]
        for name, sub in s["properties"].items():
            target = sub
            while target.get("type") == "array" and isinstance(target.get("items"), dict):
                target = target["items"]
            fname = "`%s`" % name
            if target.get("type") == "object" and target.get("properties"):
                sub_anchor = anchor + "-" + name.lower()
                fname = "[`%s`](#%s)" % (name, sub_anchor)
            req = " (required)" if name in s.get("required", []) else ""
            default = fmt_value(sub["default"]) if "default" in sub else ""
            lines.append("| %s%s | %s | %s | %s | %s |" % (
                fname, req, type_of(sub), default, rules_of(sub), one_line(sub.get("description"))))
        lines.append("")
    return lines


def generate():
    lines = [
        "<!-- Generated by scripts/gen-api-reference.py from crds/; do not edit by hand. -->",
        "# API reference: aios.dev/v1alpha1",
        "",
        "Both kinds are namespaced, have a status subresource (the operator writes status only,",
        "never spec), belong to the category `aios` (`kubectl get aios`), and validate every",
        "field in their OpenAPI schema, so a bad manifest is refused by `kubectl apply` with a",
        "message naming the field. Defaults below are filled in by the API server when an object",
        "is created or updated; `kubectl get -o yaml` shows them. See [crds.md](crds.md) for how the",
        "schemas behave on Kubernetes 1.20 (unknown fields, cross-field rules).",
        "",
        "- [TrainingJob](#trainingjob)",
        "- [ModelService](#modelservice)",
        "",
    ]
    for fn in CRDS:
        with open(os.path.join(ROOT, "crds", fn)) as f:
            lines += crd_doc(yaml.safe_load(f))
    return "\n".join(lines).rstrip("\n") + "\n"


def main():
    text = generate()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        try:
            with open(OUT) as f:
                old = f.read()
        except OSError:
            old = ""
        if old != text:
            sys.stderr.write("docs/api-reference.md is stale: run scripts/gen-api-reference.py\n")
            return 1
        return 0
    if len(sys.argv) > 1:
        sys.stderr.write(__doc__)
        return 2
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote %s" % os.path.relpath(OUT, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
