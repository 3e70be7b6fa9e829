"""The swagger conformance checker that guards every ``cc_http`` response in the test suite.

It must flag what CC would never send (a wrong body type, an undocumented success status,
an error in the wrong shape) and pass what CC does send, or every other test's safety net
is a false one. The generated operation table must also stay what the generator makes of
the current swagger.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.http import json_response
from ccbridge.sandbox.routing import Context, Route
from ccbridge.testing.conformance import SpecConformance, find_spec
from ccbridge.testing.plugin import ConformanceViolation

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
CONTACT_ID = "1618ae62-4752-11e9-9c8a-fa163e6b01c1"
JSON = "application/json"
INNER_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def _check(checker: SpecConformance, method: str, path: str, status: int, body: Any) -> list[str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return checker.check(method, path, status, raw, JSON)


# -- success bodies -------------------------------------------------------------------------
def test_passes_a_correct_contacts_collection(cc_conformance: SpecConformance) -> None:
    body = {
        "contacts": [
            {
                "contact_id": CONTACT_ID,
                "email_address": {"address": "a@example.com", "permission_to_send": "implicit"},
                "first_name": "Ada",
                "create_source": "Account",
                "created_at": "2024-01-02T03:04:05.000Z",
            }
        ],
        "_links": {"next": {"href": "/v3/contacts?cursor=abc"}},
    }
    assert _check(cc_conformance, "GET", "/v3/contacts", 200, body) == []


def test_flags_a_contacts_collection_whose_contacts_is_a_string(
    cc_conformance: SpecConformance,
) -> None:
    problems = _check(cc_conformance, "GET", "/v3/contacts", 200, {"contacts": "nobody"})
    assert len(problems) == 1
    assert "getContacts" in problems[0] and "at contacts" in problems[0]
    assert "is not of type 'array'" in problems[0]


def test_flags_a_nested_field_with_its_json_path(cc_conformance: SpecConformance) -> None:
    body = {"contacts": [{"contact_id": CONTACT_ID, "email_address": {"address": 5}}]}
    problems = _check(cc_conformance, "GET", "/v3/contacts", 200, body)
    assert any("at contacts/0/email_address/address" in p for p in problems), problems


def test_flags_a_missing_required_field(cc_conformance: SpecConformance) -> None:
    body = {"contacts": [{"contact_id": CONTACT_ID, "email_address": {"permission_to_send": "x"}}]}
    problems = _check(cc_conformance, "GET", "/v3/contacts", 200, body)
    assert any("'address' is a required property" in p for p in problems), problems


def test_flags_a_success_status_cc_does_not_document(cc_conformance: SpecConformance) -> None:
    problems = _check(cc_conformance, "POST", "/v3/contacts", 200, {"contact_id": CONTACT_ID})
    assert problems == [
        "POST /v3/contacts -> 200 (createContact): CC documents no 200 response for this operation"
    ]
    assert _check(cc_conformance, "GET", "/v3/contacts", 201, {"contacts": []})


def test_flags_an_empty_or_non_json_success_body(cc_conformance: SpecConformance) -> None:
    assert _check(cc_conformance, "GET", "/v3/contacts", 200, b"")
    html = cc_conformance.check("GET", "/v3/contacts", 200, b"<html></html>", "text/html")
    assert html and "expected a JSON body" in html[0]
    assert _check(cc_conformance, "GET", "/v3/contacts", 200, b"{not json")


def test_204_must_be_empty(cc_conformance: SpecConformance) -> None:
    path = f"/v3/contacts/{CONTACT_ID}"
    assert cc_conformance.check("DELETE", path, 204, b"", "") == []
    problems = cc_conformance.check("DELETE", path, 204, b"{}", JSON)
    assert problems and "no body" in problems[0]


# -- error bodies ---------------------------------------------------------------------------
def test_passes_ccs_error_shapes(cc_conformance: SpecConformance) -> None:
    array = [{"error_key": "contacts.api.not_found", "error_message": "Not found."}]
    single = {"error_key": "unauthorized", "error_message": "Unauthorized"}
    throttled = {"error_key": "throttled", "error_message": "Too Many Requests"}
    path = f"/v3/contacts/{CONTACT_ID}"
    assert _check(cc_conformance, "GET", path, 404, array) == []
    assert _check(cc_conformance, "GET", path, 400, array) == []
    assert _check(cc_conformance, "GET", path, 401, single) == []
    assert _check(cc_conformance, "GET", path, 429, throttled) == []
    cap = [{"error_key": "activities.api.too_many_requests", "error_message": "Too many."}]
    assert _check(cc_conformance, "POST", "/v3/activities/contact_delete", 429, cap) == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"error_key": "contacts.api.not_found", "error_message": "Not found."}),  # not array
        (400, []),  # an empty array names no error
        (409, [{"error_key": "contacts.api.conflict"}]),  # no message
        (400, [{"error_key": 400, "error_message": "x"}]),  # key not a string
        (401, [{"error_key": "unauthorized", "error_message": "Unauthorized"}]),  # 401 is single
        (429, "Too Many Requests"),
        (501, {"error_key": "sandbox.not_implemented", "error_message": "x"}),
        (500, {"error": "server_error", "error_description": "x"}),  # OAuth shape on the API
    ],
)
def test_flags_a_wrong_error_shape(cc_conformance: SpecConformance, status: int, body: Any) -> None:
    assert _check(cc_conformance, "GET", f"/v3/contacts/{CONTACT_ID}", status, body)


def test_flags_an_error_body_that_is_not_json(cc_conformance: SpecConformance) -> None:
    problems = cc_conformance.check(
        "GET", "/v3/contacts", 503, b"<h1>Service Unavailable</h1>", "text/html"
    )
    assert problems and "must be JSON" in problems[0]


def test_ignores_what_is_not_cc_api(cc_conformance: SpecConformance) -> None:
    assert cc_conformance.check("GET", "/_sandbox/clock", 200, b"[]", JSON) == []
    assert cc_conformance.check("POST", "/oauth2/default/v1/token", 200, b"{}", JSON) == []
    assert cc_conformance.check("GET", "/v3/not_in_the_spec", 200, b"{}", JSON) == []


def test_matches_literal_paths_before_templates(cc_conformance: SpecConformance) -> None:
    counts = cc_conformance.operation_for("GET", "/v3/contacts/counts")
    by_id = cc_conformance.operation_for("GET", f"/v3/contacts/{CONTACT_ID}")
    assert counts is not None and counts.operation_id == "countContact"
    assert by_id is not None and by_id.operation_id == "getContact"


# -- the plugin's safety net ------------------------------------------------------------------
def test_cc_http_fails_a_test_on_a_non_conforming_response(
    cc_conformance: SpecConformance, cc_sandbox: Sandbox, cc_http: httpx.Client
) -> None:
    def broken(ctx: Context) -> Any:
        return json_response({"contacts": "a string, not an array"})

    cc_sandbox.router.routes.insert(0, Route("GET", "/v3/contacts", broken, "api"))
    with pytest.raises(ConformanceViolation) as caught:
        cc_http.get("/contacts")
    assert "at contacts" in str(caught.value)


def test_cc_conformance_skips_with_a_reason_when_the_spec_is_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CCBRIDGE_SPEC", str(tmp_path / "missing.yaml"))
    # CI runs with the spec mandatory; this inner run is about the optional case.
    monkeypatch.delenv("CCBRIDGE_REQUIRE_SPEC", raising=False)
    pytester.makeini(INNER_INI)
    pytester.makepyfile(
        """
        def test_needs_the_spec(cc_conformance):
            raise AssertionError("must not run without the spec")
        """
    )
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*CC's swagger not found*CCBRIDGE_SPEC*"])


def test_require_spec_turns_a_missing_spec_into_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CCBRIDGE_SPEC", str(tmp_path / "missing.yaml"))
    monkeypatch.setenv("CCBRIDGE_REQUIRE_SPEC", "1")
    pytester.makeini(INNER_INI)
    pytester.makepyfile("def test_anything():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# -- the generated operation table ----------------------------------------------------------
def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_operations", ROOT / "tools" / "gen_operations.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_operations_table_is_what_the_generator_makes_of_the_current_spec(tmp_path: Path) -> None:
    spec_path = find_spec()
    if spec_path is None:
        pytest.skip("CC's swagger not found: set CCBRIDGE_SPEC or place it in ../shared/spec/")
    generator = _generator()
    output = tmp_path / "operations.py"
    assert generator.main(["gen_operations.py", str(spec_path), "--output", str(output)]) == 0
    committed = ROOT / "src" / "ccbridge" / "_spec" / "operations.py"
    assert output.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
        "src/ccbridge/_spec/operations.py is stale: run python tools/gen_operations.py"
    )
