"""Generate ``src/ccbridge/_spec/operations.py`` from Constant Contact's swagger.

Only facts are taken from the spec: each operation's method, path, operationId, tag,
OAuth scopes, parameter names/locations/types, body schema name and success status.
No descriptive prose is copied. Run:

    python tools/gen_operations.py [path/to/constant-contact-v3-swagger.yaml] [--output FILE]

The spec path defaults to ``$CCBRIDGE_SPEC`` or ``../shared/spec/`` beside the checkout; the
output defaults to the committed module. ``generate()`` returns the text without writing it,
so a test can check that the committed table matches the spec.
"""

from __future__ import annotations

import argparse
import os
import pprint
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "ccbridge" / "_spec" / "operations.py"
METHODS = ("get", "post", "put", "patch", "delete")


def default_spec_path() -> Path:
    env = os.environ.get("CCBRIDGE_SPEC")
    if env:
        return Path(env)
    return ROOT.parent / "shared" / "spec" / "constant-contact-v3-swagger.yaml"


def _ref_name(schema: dict | None) -> str | None:
    if not schema:
        return None
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "items" in schema:
        inner = _ref_name(schema["items"])
        return f"list[{inner}]" if inner else "list"
    return schema.get("type")


def build(spec: dict) -> list[dict]:
    ops = []
    for path, item in spec["paths"].items():
        shared_params = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = []
            body = None
            consumes = op.get("consumes", spec.get("consumes", []))
            for p in [*shared_params, *op.get("parameters", [])]:
                if p["in"] == "body":
                    body = _ref_name(p.get("schema"))
                    continue
                entry = {
                    "name": p["name"],
                    "in": p["in"],
                    "type": p.get("type", "string"),
                    "required": bool(p.get("required", False)),
                }
                if "enum" in p:
                    entry["enum"] = list(p["enum"])
                if p.get("type") == "array":
                    entry["items"] = p.get("items", {}).get("type", "string")
                params.append(entry)
            scopes: list[str] = []
            schemes: list[str] = []
            for sec in op.get("security", spec.get("security", [])):
                for name, sc in sec.items():
                    schemes.append(name)
                    scopes.extend(s for s in sc if s not in scopes)
            success = sorted(
                int(code)
                for code in op.get("responses", {})
                if str(code).isdigit() and int(code) < 300
            )
            ops.append(
                {
                    "operation_id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "tag": op.get("tags", ["Untagged"])[0],
                    "scopes": tuple(scopes),
                    "security_schemes": tuple(dict.fromkeys(schemes)),
                    "params": tuple(params),
                    "body": body,
                    "consumes": tuple(consumes),
                    "success_statuses": tuple(success),
                }
            )
    return ops


def render(ops: list[dict], version: str) -> str:
    body = pprint.pformat(ops, width=100, sort_dicts=False)
    return (
        '"""Operation table generated from Constant Contact\'s V3 swagger by tools/gen_operations.py.\n\n'
        "Do not edit by hand: re-run the generator. Facts only (paths, names, types, scopes).\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "from typing import Any\n\n"
        f"SPEC_VERSION = {version!r}\n\n"
        f"OPERATIONS: list[dict[str, Any]] = {body}\n"
    )


def _ruff_format(text: str) -> str:
    """Format as the repository does: ruff with the project's settings, as if at ``OUT``."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUT), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return result.stdout


def generate(spec_path: Path) -> tuple[str, int]:
    """The formatted module text for a spec, and how many operations it holds."""
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    ops = build(spec)
    return _ruff_format(render(ops, str(spec["info"]["version"]))), len(ops)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Generate the sandbox's CC operation table.")
    parser.add_argument("spec", nargs="?", type=Path, default=None, help="the swagger YAML")
    parser.add_argument("--output", type=Path, default=OUT, help=f"default: {OUT}")
    args = parser.parse_args(argv[1:])
    spec_path = args.spec or default_spec_path()
    text, count = generate(spec_path)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {count} operations to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
