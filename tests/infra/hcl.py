"""infra/*.tf as Python data (python-hcl2), for asserting the deployment plan's numbers.

A root module or module directory becomes a `Module`: resources and data sources by
type and name, variables' defaults, locals, module calls and outputs. Values that are
Terraform expressions stay strings such as "${var.x}"; `Module.resolve` follows a plain
`${var.x}` or `${local.x}` to its value.
"""

import re
from functools import lru_cache
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
_REF = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_]+)\}$")


class Module:
    def __init__(self, path):
        self.path = Path(path)
        self.resources, self.data, self.variables = {}, {}, {}
        self.locals, self.modules, self.outputs = {}, {}, {}
        self.terraform = []
        for tf in sorted(self.path.glob("*.tf")):
            self._add(hcl2.loads(tf.read_text(), serialization_options=_OPTIONS))

    def _add(self, doc):
        for kind, store in (("resource", self.resources), ("data", self.data)):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        store.setdefault(rtype, {})[name] = body
        for block in doc.get("variable", []):
            for name, body in block.items():
                self.variables[name] = body
        for block in doc.get("locals", []):
            self.locals.update(block)
        for block in doc.get("module", []):
            self.modules.update(block)
        for block in doc.get("output", []):
            self.outputs.update(block)
        self.terraform += doc.get("terraform", [])

    def resource(self, rtype, name):
        return self.resources[rtype][name]

    def default(self, name):
        return self.variables[name]["default"]

    def resolve(self, value, depth=5):
        """A plain `${var.x}` becomes x's default, `${local.x}` the local's value."""
        while depth and isinstance(value, str) and (m := _REF.match(value)):
            kind, name = m.groups()
            value = self.default(name) if kind == "var" else self.locals[name]
            depth -= 1
        return value


@lru_cache(maxsize=None)
def module(rel):
    return Module(INFRA / rel)


def blocks(body, name):
    """A nested block as a list (python-hcl2 gives a list of dicts per block type)."""
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def statements(policy_document):
    return blocks(policy_document, "statement")
