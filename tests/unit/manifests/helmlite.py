"""helmlite: renders the aios chart's templates without helm, for tests.

No helm binary is available here, so this module implements the subset of Go templates and
Sprig functions that helm/aios/templates uses: {{ }} actions with {{- -}} trimming, comments,
pipelines, parentheses, $ and ., if / else / else if / with / range / define / end, and the
functions include, toYaml, nindent, indent, quote, default, printf, trunc, trimSuffix,
contains, and, or, not, eq, ne, int, and .Files.Get. Anything else is an error naming the template and the
action, so a template that strays outside the subset fails the test instead of rendering
wrong. It is a test tool, not a Helm replacement: no lookup, no tpl, no subcharts.
"""
import os
import re

import yaml

ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\()|(\))|(\|)|([^\s()|]+))')


class TemplateError(Exception):
    pass


# ---- parsing ------------------------------------------------------------------------

def _lex(name, text):
    """Splits text into ('text', s) and ('action', s) items, applying {{- and -}} trimming."""
    items, pos = [], 0
    for m in ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if m.group(1):
            chunk = chunk.rstrip(" \t\r\n")
        items.append(["text", chunk])
        body = m.group(2).strip()
        items.append(["action", body, m.group(3) == "-"])
        pos = m.end()
    items.append(["text", text[pos:]])
    out = []
    trim_next = False
    for it in items:
        if it[0] == "text":
            s = it[1].lstrip(" \t\r\n") if trim_next else it[1]
            trim_next = False
            if s:
                out.append(("text", s))
        else:
            trim_next = it[2]
            if not (it[1].startswith("/*") and it[1].endswith("*/")):
                out.append(("action", it[1]))
    return out


def _parse(name, items):
    """Builds a tree: list of nodes; block nodes are (kind, arg, body, else_body)."""
    root = []
    stack = [(None, root)]  # (block node or None, list being filled)
    defines = {}
    for kind, s in items:
        cur = stack[-1][1]
        if kind == "text":
            cur.append(("text", s))
            continue
        word = s.split(None, 1)[0] if s else ""
        rest = s[len(word):].strip()
        if word in ("if", "with", "range"):
            node = [word, rest, [], None]
            cur.append(node)
            stack.append((node, node[2]))
        elif word == "define":
            node = ["define", _unquote(rest), [], None]
            defines[node[1]] = node[2]
            stack.append((node, node[2]))
        elif word == "else":
            blk = stack[-1][0]
            if blk is None or blk[0] not in ("if", "with", "range") or blk[3] is not None:
                raise TemplateError("%s: stray {{ else }}" % name)
            blk[3] = []
            stack[-1] = (blk, blk[3])
            if rest.startswith("if "):
                # else if X ... end: an if nested in the else branch, closed by the same end
                node = ["if", rest[3:].strip(), [], None, "chained"]
                blk[3].append(node)
                stack.append((node, node[2]))
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError("%s: stray {{ end }}" % name)
            node = stack.pop()[0]
            while len(node) == 5 and node[4] == "chained":
                node = stack.pop()[0]
        else:
            cur.append(("action", s))
    if len(stack) != 1:
        raise TemplateError("%s: {{ %s }} has no {{ end }}" % (name, stack[-1][0][0]))
    return root, defines


def _unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return bytes(s[1:-1], "utf-8").decode("unicode_escape")
    if len(s) >= 2 and s[0] == "`" and s[-1] == "`":
        return s[1:-1]
    raise TemplateError("expected a quoted string, got %r" % s)


# ---- evaluation ---------------------------------------------------------------------

def _truthy(v):
    return not (v is None or v is False or v == 0 or v == "" or v == [] or v == {})


def _fmt(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return _to_yaml(v)
    return str(v)


def _to_yaml(v):
    if v in ({}, [], None):
        return {dict: "{}", list: "[]"}.get(type(v), "null")
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def _indent(n, s):
    pad = " " * int(n)
    return "\n".join(pad + line if line else line for line in _fmt(s).split("\n"))


def _printf(fmt, *args):
    out, ai = [], 0
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            verb = fmt[i + 1]
            if verb == "%":
                out.append("%")
            elif verb in "sdvq":
                a = args[ai]
                ai += 1
                out.append('"%s"' % _fmt(a) if verb == "q" else _fmt(a))
            else:
                raise TemplateError("printf: verb %%%s not supported" % verb)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Renderer:
    """Renders one chart: Renderer(chart_dir, values, release_name, namespace)."""

    def __init__(self, chart_dir, values, release_name="aios", namespace="aios-system"):
        self.chart_dir = chart_dir
        with open(os.path.join(chart_dir, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        self.root = {
            "Values": values,
            "Release": {"Name": release_name, "Namespace": namespace, "Service": "Helm",
                        "IsInstall": True, "IsUpgrade": False},
            "Chart": {"Name": chart["name"], "Version": chart["version"],
                      "AppVersion": chart.get("appVersion", "")},
            "Capabilities": {"KubeVersion": {"Version": "v1.20.2"}},
        }
        self.templates = {}
        self.defines = {}
        tdir = os.path.join(chart_dir, "templates")
        for fn in sorted(os.listdir(tdir)):
            with open(os.path.join(tdir, fn)) as f:
                tree, defines = _parse(fn, _lex(fn, f.read()))
            self.templates[fn] = tree
            self.defines.update(defines)
        self.funcs = {
            "include": lambda name, ctx: self._run(self.defines[name], ctx, "include " + name),
            "toYaml": _to_yaml,
            "nindent": lambda n, s: "\n" + _indent(n, s),
            "indent": _indent,
            "quote": lambda s: '"%s"' % _fmt(s).replace("\\", "\\\\").replace('"', '\\"'),
            "default": lambda d, v=None: v if _truthy(v) else d,
            "printf": _printf,
            "trunc": lambda n, s: _fmt(s)[: int(n)],
            "trimSuffix": lambda suf, s: _fmt(s)[: -len(suf)] if suf and _fmt(s).endswith(suf) else _fmt(s),
            "contains": lambda sub, s: sub in _fmt(s),
            "and": lambda *a: next((x for x in a if not _truthy(x)), a[-1]),
            "or": lambda *a: next((x for x in a if _truthy(x)), a[-1]),
            "not": lambda v: not _truthy(v),
            "eq": lambda a, b: a == b,
            "ne": lambda a, b: a != b,
            "int": lambda v: int(v or 0),
            ".Files.Get": self._file,
        }

    def _file(self, rel):
        """.Files.Get: a file of the chart as text ("" when missing, as Helm does)."""
        path = os.path.join(self.chart_dir, rel)
        if not os.path.isfile(path):
            return ""
        with open(path) as f:
            return f.read()

    # -- expressions --
    def _tokens(self, s, where):
        toks, pos = [], 0
        s = s.strip()
        while pos < len(s):
            m = TOKEN.match(s, pos)
            if not m or m.end() == pos:
                raise TemplateError("%s: cannot read %r" % (where, s[pos:]))
            pos = m.end()
            for kind, g in zip(("str", "raw", "(", ")", "|", "word"), m.groups()):
                if g is not None:
                    toks.append((kind, g))
        return toks

    def _pipeline(self, toks, dot, where):
        """Evaluates tokens (a full pipeline) in the context dot."""
        cmds, cur, depth = [], [], 0
        for t in toks:
            if t[0] == "(":
                depth += 1
            elif t[0] == ")":
                depth -= 1
            if t[0] == "|" and depth == 0:
                cmds.append(cur)
                cur = []
            else:
                cur.append(t)
        cmds.append(cur)
        val, have = None, False
        for cmd in cmds:
            args = self._terms(cmd, dot, where)
            if not args:
                raise TemplateError("%s: empty command" % where)
            head = args[0]
            if isinstance(head, _Func):
                rest = args[1:] + ([val] if have else [])
                try:
                    val = self.funcs[head.name](*rest)
                except TemplateError:
                    raise
                except Exception as e:  # wrong arity or type: name the action
                    raise TemplateError("%s: %s: %s" % (where, head.name, e))
            else:
                if len(args) > 1 or have:
                    raise TemplateError("%s: %r is not a function" % (where, cmd[0][1]))
                val = head
            have = True
        return val

    def _terms(self, toks, dot, where):
        out, i = [], 0
        while i < len(toks):
            kind, g = toks[i]
            if kind == "(":
                depth, j = 1, i + 1
                while depth:
                    if j >= len(toks):
                        raise TemplateError("%s: unbalanced (" % where)
                    depth += {"(": 1, ")": -1}.get(toks[j][0], 0)
                    j += 1
                out.append(self._pipeline(toks[i + 1:j - 1], dot, where))
                i = j
                continue
            if kind == "str":
                out.append(_unquote(g))
            elif kind == "raw":
                out.append(g[1:-1])
            elif g in self.funcs:
                out.append(_Func(g))
            elif re.fullmatch(r"-?[0-9]+", g):
                out.append(int(g))
            elif g in ("true", "false"):
                out.append(g == "true")
            elif g == ".":
                out.append(dot)
            elif g.startswith("$") or g.startswith("."):
                base = self.root if g.startswith("$") else dot
                path = g[1:].lstrip(".")
                v = base
                for part in path.split(".") if path else []:
                    v = v.get(part) if isinstance(v, dict) else None
                out.append(v)
            else:
                raise TemplateError("%s: unknown function or value %r" % (where, g))
            i += 1
        return out

    # -- nodes --
    def _run(self, nodes, dot, where):
        out = []
        for n in nodes:
            if n[0] == "text":
                out.append(n[1])
            elif n[0] == "action":
                v = self._pipeline(self._tokens(n[1], where), dot, "%s: {{ %s }}" % (where, n[1]))
                out.append(_fmt(v))
            elif n[0] == "define":
                continue
            else:
                kind, arg, body, els = n[0], n[1], n[2], n[3]
                v = self._pipeline(self._tokens(arg, where), dot, "%s: {{ %s %s }}" % (where, kind, arg))
                if kind == "if":
                    out.append(self._run(body if _truthy(v) else (els or []), dot, where))
                elif kind == "with":
                    out.append(self._run(body, v, where) if _truthy(v) else self._run(els or [], dot, where))
                elif kind == "range":
                    seq = list(v.values()) if isinstance(v, dict) else (v or [])
                    if seq:
                        out.extend(self._run(body, item, where) for item in seq)
                    else:
                        out.append(self._run(els or [], dot, where))
        return "".join(out)

    def render(self, name):
        """Text of one template (NOTES.txt included)."""
        return self._run(self.templates[name], self.root, name)

    def manifests(self):
        """Every object the chart's templates produce (not NOTES.txt nor helpers)."""
        objs = []
        for name in self.templates:
            if name.startswith("_") or not name.endswith((".yaml", ".yml")):
                continue
            text = self.render(name)
            try:
                docs = list(yaml.safe_load_all(text))
            except yaml.YAMLError as e:
                raise TemplateError("%s renders to invalid YAML: %s\n%s" % (name, e, text))
            objs.extend((name, d) for d in docs if d)
        return objs


class _Func:
    def __init__(self, name):
        self.name = name
