"""Generate ``src/ccbridge/resources/_generated.py``: a typed method for every CC operation.

Input is the operation table ``src/ccbridge/_spec/operations.py`` (itself generated from
CC's swagger by ``tools/gen_operations.py``), so only facts reach the client: method, path,
operationId, tag and parameter names, locations and types. For each swagger tag it writes
a sync and an async class with identical signatures:

- method names are the snake_case operationId (without Springfox's ``UsingGET`` suffixes);
- path parameters are required positional arguments, in path order;
- query and form parameters are keyword-only, typed ``str``/``int``/``bool``/``list[str]``
  (``None`` by default when optional);
- ``body: Mapping[str, Any] | None`` where the operation takes a JSON body;
- collection operations that CC paginates with ``_links.next`` also get an ``iter_*``
  method returning a lazy paginator.

Run ``python tools/gen_client.py`` to rewrite the file, ``--check`` to fail when it is stale.
The output is formatted with ruff, so re-running on an unchanged table changes nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "ccbridge" / "resources" / "_generated.py"
sys.path.insert(0, str(ROOT / "src"))

from ccbridge._spec.operations import OPERATIONS, SPEC_VERSION  # noqa: E402

GROUPS: dict[str, tuple[str, ...]] = {
    "account": ("Account Services",),
    "contacts": ("Contacts",),
    "contact_lists": ("Contact Lists",),
    "contact_tags": ("Contact Tags",),
    "custom_fields": ("Contacts Custom Fields",),
    "segments": ("Segments",),
    "bulk_activities": ("Bulk Activities",),
    "email_campaigns": ("Email Campaigns",),
    "ab_tests": ("Email Campaigns AB Tests",),
    "email_scheduling": ("Email Scheduling",),
    "reporting": (
        "Email Reporting",
        "Contacts Reporting",
        "Landing Pages Reporting",
        "SMS Reporting",
    ),
    "automations": ("Automations",),
    "events": ("Events",),
    "social": ("Social",),
    "partner": ("Technology Partners",),
    "webhooks": ("Technology Partners Webhooks",),
}
"""Client attribute -> the swagger tags whose operations it carries."""

PAGINATED: dict[str, tuple[str, str]] = {
    "getContacts": ("contacts", "iter_contacts"),
    "getLists": ("lists", "iter_lists"),
    "getTags": ("tags", "iter_tags"),
    "getCustomFields": ("custom_fields", "iter_custom_fields"),
    "getAccountSegments": ("segments", "iter_segments"),
    "getActivityStatusCollection": ("activities", "iter_activities"),
    "retrieveEmailCampaignsUsingGET": ("campaigns", "iter_email_campaigns"),
    "getContactTracking": ("tracking_activities", "iter_contact_tracking"),
    "getSends": ("tracking_activities", "iter_sends"),
    "getOpens": ("tracking_activities", "iter_opens"),
    "getUniqueOpens": ("tracking_activities", "iter_unique_opens"),
    "getDidNotOpens": ("tracking_activities", "iter_did_not_opens"),
    "getClicks": ("tracking_activities", "iter_clicks"),
    "getForwards": ("tracking_activities", "iter_forwards"),
    "getOptouts": ("tracking_activities", "iter_optouts"),
    "getBounces": ("tracking_activities", "iter_bounces"),
    "getAllBulkEmailCampaignSummaries": (
        "bulk_email_campaign_summaries",
        "iter_email_campaign_summaries",
    ),
    "getAllBulkSmsCampaignSummaries": (
        "bulk_sms_campaign_summaries",
        "iter_sms_campaign_summaries",
    ),
    "getUniqueContactClicks": ("tracking_activities", "iter_unique_contact_clicks"),
    "getUniqueContactOpens": ("tracking_activities", "iter_unique_contact_opens"),
    "getContactOpens": ("tracking_activities", "iter_contact_opens"),
    "getUniqueContactUpdates": ("tracking_activities", "iter_unique_contact_updates"),
    "getContactAdds": ("tracking_activities", "iter_contact_adds"),
    "getUniqueContactSMSOptIns": ("tracking_activities", "iter_unique_contact_sms_opt_ins"),
    "getPartnerSiteOwners": ("site_owner_list", "iter_partner_site_owners"),
}
"""Collections CC pages with ``_links.next`` (their 200 schema has ``_links``): items key
and the name of the iterator method."""

PY_TYPES = {
    "string": "str",
    "integer": "int",
    "boolean": "bool",
    "array": "list[str]",
    "file": "FileContent",
}


def method_name(operation_id: str) -> str:
    name = re.sub(r"Using(GET|POST|PUT|PATCH|DELETE|Get|Post|Put|Patch|Delete)$", "", operation_id)
    name = re.sub(r"_\d+$", "", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z\d])([A-Z])", r"\1_\2", name)
    return name.lower()


def class_name(tag: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", tag)
    return "".join(w.capitalize() for w in words)


def group_class_name(group: str) -> str:
    return "".join(part.capitalize() for part in group.split("_"))


def _annotation(param: dict[str, Any]) -> str:
    base = PY_TYPES[param["type"]]
    return base if param["required"] else f"{base} | None"


def _signature(op: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """The parameter list, and the argument names per location (path/query/form)."""
    path_order = re.findall(r"{(\w+)}", op["path"])
    by_name = {p["name"]: p for p in op["params"]}
    params = ["self"]
    for name in path_order:
        params.append(f"{name}: {PY_TYPES[by_name[name]['type']]}")
    keyword = [p for p in op["params"] if p["in"] != "path"]
    if keyword or op["body"]:
        params.append("*")
    for p in sorted(keyword, key=lambda p: not p["required"]):
        default = "" if p["required"] else " = None"
        params.append(f"{p['name']}: {_annotation(p)}{default}")
    if op["body"]:
        params.append("body: Mapping[str, Any] | None = None")
    where: dict[str, list[str]] = {"path": path_order, "query": [], "formData": []}
    for p in keyword:
        where.setdefault(p["in"], []).append(p["name"])
    unknown = set(where) - {"path", "query", "formData"}
    if unknown:
        raise SystemExit(f"{op['operation_id']}: unsupported parameter location(s) {unknown}")
    return params, where


def _kwargs(where: dict[str, list[str]], has_body: bool) -> list[str]:
    args = []
    for location, key in (("path", "path_params"), ("query", "query"), ("formData", "form")):
        names = where[location]
        if names:
            args.append(f"{key}={{" + ", ".join(f"{n!r}: {n}" for n in names) + "}")
    if has_body:
        args.append("body=body")
    return args


def _docstring(op: dict[str, Any], extra: str = "") -> str:
    scopes = ", ".join(op["scopes"]) or "none listed"
    return (
        f'"""``{op["method"]} {op["path"]}`` (operationId ``{op["operation_id"]}``;'
        f' scopes: {scopes}).{extra}"""'
    )


def render_method(op: dict[str, Any], *, is_async: bool) -> list[str]:
    params, where = _signature(op)
    name = method_name(op["operation_id"])
    call = ", ".join([repr(op["operation_id"]), *_kwargs(where, bool(op["body"]))])
    prefix = "async def" if is_async else "def"
    awaiting = "await " if is_async else ""
    lines = [
        f"    {prefix} {name}({', '.join(params)}) -> Any:",
        f"        {_docstring(op)}",
        f"        return {awaiting}self._client._operation({call})",
        "",
    ]
    if op["operation_id"] in PAGINATED:
        items_key, iter_name = PAGINATED[op["operation_id"]]
        paginator = "AsyncPaginator" if is_async else "Paginator"
        iter_where = {**where}
        iter_call = ", ".join(
            [repr(op["operation_id"]), f"items_key={items_key!r}", *_kwargs(iter_where, False)]
        )
        lines += [
            f"    def {iter_name}({', '.join(params)}) -> {paginator}[dict[str, Any]]:",
            f"        {_docstring(op, ' Every item of every page, fetched lazily; ``limit`` sets the page size.')}",
            f"        return self._client._paginate_operation({iter_call})",
            "",
        ]
    return lines


def render() -> str:
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for op in OPERATIONS:
        by_tag.setdefault(op["tag"], []).append(op)
    grouped = {tag for tags in GROUPS.values() for tag in tags}
    missing = set(by_tag) - grouped
    if missing:
        raise SystemExit(f"swagger tag(s) without a client group: {sorted(missing)}")
    for op_id in PAGINATED:
        if not any(op["operation_id"] == op_id for op in OPERATIONS):
            raise SystemExit(f"PAGINATED names an unknown operation: {op_id}")

    out = [
        '"""Typed methods for every operation of CC\'s V3 API, one class per swagger tag.',
        "",
        f"Generated by tools/gen_client.py from src/ccbridge/_spec/operations.py (swagger {SPEC_VERSION}).",
        "Do not edit: change the generator and re-run it. Hand-written additions live in the",
        "sibling modules, which subclass these classes.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from typing import Any",
        "",
        "from ccbridge._pagination import AsyncPaginator, Paginator",
        "from ccbridge._types import FileContent",
        "from ccbridge.resources._base import AsyncResource, SyncResource",
        "",
        "",
    ]
    group_lines: list[str] = []
    mapping: list[str] = []
    for group, tags in GROUPS.items():
        names_seen: dict[str, str] = {}
        for tag in tags:
            for op in by_tag.get(tag, []):
                for name in [method_name(op["operation_id"])] + (
                    [PAGINATED[op["operation_id"]][1]] if op["operation_id"] in PAGINATED else []
                ):
                    if name in names_seen:
                        raise SystemExit(
                            f"{group}: method {name} from {op['operation_id']} clashes with "
                            f"{names_seen[name]}"
                        )
                    names_seen[name] = op["operation_id"]
            for is_async in (False, True):
                cls = ("Async" if is_async else "") + class_name(tag) + "Operations"
                base = "AsyncResource" if is_async else "SyncResource"
                out.append(f"class {cls}({base}):")
                out.append(
                    f'    """Operations of CC\'s "{tag}" tag ({"async" if is_async else "sync"})."""'
                )
                out.append("")
                for op in by_tag.get(tag, []):
                    out += render_method(op, is_async=is_async)
                out.append("")
        if len(tags) > 1:
            for is_async in (False, True):
                prefix = "Async" if is_async else ""
                cls = f"{prefix}{group_class_name(group)}Operations"
                bases = ", ".join(f"{prefix}{class_name(t)}Operations" for t in tags)
                group_lines += [
                    f"class {cls}({bases}):",
                    f'    """The operations of the tags {", ".join(repr(t) for t in tags)} together."""',
                    "",
                    "",
                ]
            sync_cls = f"{group_class_name(group)}Operations"
        else:
            sync_cls = f"{class_name(tags[0])}Operations"
        mapping.append(f"    {group!r}: ({sync_cls}, Async{sync_cls}),")
    out += group_lines
    out += [
        "GROUPS: dict[str, tuple[type[SyncResource], type[AsyncResource]]] = {",
        *mapping,
        "}",
        '"""Client attribute -> (sync class, async class) of the generated operations."""',
        "",
        "TAGS: dict[str, tuple[str, ...]] = {",
        *(f"    {group!r}: {tags!r}," for group, tags in GROUPS.items()),
        "}",
        '"""Client attribute -> the swagger tags it covers."""',
        "",
    ]
    return "\n".join(out)


def formatted(source: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUT), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"ruff format failed:\n{result.stderr}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    source = formatted(render())
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != source:
            print(f"{OUT.relative_to(ROOT)} is out of date: run python tools/gen_client.py")
            return 1
        return 0
    OUT.write_text(source, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
