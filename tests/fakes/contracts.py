"""Check recorded requests against the providers' official OpenAPI specs and schemas.

The specs live outside the repo, in ``shared/contracts`` next to it, and are read at test
time (never copied into the project). When they are absent the validators call
``pytest.skip`` (``slack_request_problems`` and ``adaptive_card_problems``, which the
Slack and Teams fakes call on every request, answer ``None`` instead).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft4Validator, Draft6Validator, Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from .server import RecordedRequest

__all__ = [
    "CONTRACTS_DIR",
    "adaptive_card_contract_available",
    "adaptive_card_problems",
    "contracts_available",
    "slack_arguments",
    "slack_contract_available",
    "slack_request_problems",
    "validate_adaptive_card",
    "validate_sendgrid_request",
    "validate_slack_request",
    "validate_slack_response",
    "validate_twilio_message",
    "validate_twilio_request",
]

CONTRACTS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "contracts"
SENDGRID_SPEC = "tsg_mail_v3.json"
TWILIO_SPEC = "twilio_api_v2010.json"
SLACK_SPEC = "slack_web_openapi_v2.json"
ADAPTIVE_CARD_SCHEMA = "adaptive-card-1.5.json"
SENDGRID_OPERATION = "SendMail"
TWILIO_OPERATION = "CreateMessage"
FORM = "application/x-www-form-urlencoded"


def contracts_available() -> bool:
    """True when both spec files are present."""
    return all((CONTRACTS_DIR / name).is_file() for name in (SENDGRID_SPEC, TWILIO_SPEC))


@cache
def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = json.load(fh)
    return spec


def _load(name: str) -> dict[str, Any] | None:
    """The spec ``name``, or ``None`` when it is absent (absence is not cached)."""
    path = CONTRACTS_DIR / name
    return _read(path) if path.is_file() else None


def _spec(name: str) -> dict[str, Any]:
    spec = _load(name)
    if spec is None:
        pytest.skip(f"provider contract {CONTRACTS_DIR / name} is not available")
    return spec


class _Operation:
    """One spec operation, with ``$ref``s inlined and OpenAPI-3.0 ``nullable`` translated."""

    def __init__(self, spec_name: str, operation_id: str) -> None:
        self.spec_name = spec_name
        self.spec = _spec(spec_name)
        self.operation_id = operation_id
        found = [
            (template, method, item, op)
            for template, item in self.spec.get("paths", {}).items()
            for method, op in item.items()
            if isinstance(op, dict) and op.get("operationId") == operation_id
        ]
        if len(found) != 1:
            raise AssertionError(f"{spec_name}: {len(found)} operations named {operation_id!r}")
        self.template, method, item, self.op = found[0]
        self.method = method.upper()
        params = [
            self.resolve(p) for p in item.get("parameters", []) + self.op.get("parameters", [])
        ]
        self.path_params = {p["name"]: p.get("schema", {}) for p in params if p.get("in") == "path"}
        names = "|".join(re.escape(n) for n in self.path_params) or "(?!)"
        self.path_regex = re.compile(
            "^"
            + re.sub(
                r"\\\{(" + names + r")\\\}",
                lambda m: f"(?P<{m.group(1)}>[^/]+)",
                re.escape(self.template),
            )
            + "$"
        )

    def resolve(self, node: Any, seen: tuple[str, ...] = ()) -> Any:
        """A copy of ``node`` with every local ``$ref`` inlined."""
        if isinstance(node, list):
            return [self.resolve(x, seen) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen:  # recursive schema: accept anything below this point
                return {}
            target = self.spec
            for part in ref.removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            resolved = self.resolve(target, (*seen, ref))
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {"allOf": [resolved, self.resolve(rest, seen)]} if rest else resolved
        out = {k: self.resolve(v, seen) for k, v in node.items()}
        if out.pop("nullable", False):
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            if isinstance(out.get("enum"), list):
                out["enum"] = [*out["enum"], None]
        return out

    def request_schema(self, media_type: str) -> dict[str, Any]:
        """The JSON schema of the request body for ``media_type``."""
        body = self.resolve(self.op.get("requestBody", {}))
        try:
            return body["content"][media_type]["schema"]
        except KeyError:
            raise AssertionError(
                f"{self.operation_id} in {self.spec_name} has no {media_type} request body"
            ) from None

    def response_schema(self, status: int, media_type: str = "application/json") -> dict[str, Any]:
        """The JSON schema of the ``status`` response body."""
        response = self.resolve(self.op.get("responses", {}).get(str(status), {}))
        try:
            return response["content"][media_type]["schema"]
        except KeyError:
            raise AssertionError(
                f"{self.operation_id} has no {status} {media_type} response schema"
            ) from None

    def security_schemes(self) -> list[dict[str, Any]]:
        """The security schemes that apply to the operation."""
        requirements = self.op.get("security", self.spec.get("security"))
        schemes = self.spec.get("components", {}).get("securitySchemes", {})
        if requirements is None:
            return list(schemes.values())
        return [schemes[name] for req in requirements for name in req if name in schemes]

    def check_request_line(self, rec: RecordedRequest, media_type: str) -> list[str]:
        """Problems with method, path, path parameters, auth scheme and Content-Type."""
        problems = []
        if rec.method != self.method:
            problems.append(f"method {rec.method} (the spec says {self.method})")
        path = urlsplit(rec.path).path
        match = self.path_regex.match(path)
        if match is None:
            problems.append(f"path {path!r} does not match {self.template!r}")
        else:
            for name, schema in self.path_params.items():
                problems += [
                    f"path parameter {name}: {e.removeprefix('(body): ')}"
                    for e in _errors(schema, match[name])
                ]
        schemes = self.security_schemes()
        if schemes:
            auth = rec.headers.get("Authorization", "")
            wanted = {s.get("scheme", "").lower() for s in schemes if s.get("type") == "http"}
            if wanted and auth.partition(" ")[0].lower() not in wanted:
                problems.append(f"Authorization scheme must be one of {sorted(wanted)}")
        ctype = rec.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if ctype != media_type:
            problems.append(f"Content-Type {ctype!r} (the spec says {media_type!r})")
        return problems


@cache
def _operation(spec_name: str, operation_id: str) -> _Operation:
    return _Operation(spec_name, operation_id)


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    out = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        out.append(f"{where}: {error.message}")
    return out


def _fail(what: str, problems: list[str]) -> None:
    if problems:
        raise AssertionError(f"{what}:\n  - " + "\n  - ".join(problems))


def validate_sendgrid_request(rec: RecordedRequest) -> dict[str, Any]:
    """Assert ``rec`` is a valid SendGrid ``SendMail`` request; return the parsed body."""
    op = _operation(SENDGRID_SPEC, SENDGRID_OPERATION)
    problems = op.check_request_line(rec, "application/json")
    try:
        data = json.loads(rec.body)
    except ValueError as exc:
        problems.append(f"body is not JSON: {exc}")
        data = None
    else:
        problems += _errors(op.request_schema("application/json"), data)
    _fail(f"SendGrid request does not match the {SENDGRID_OPERATION} contract", problems)
    return data


def _pascal(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def _coerce(name: str, values: list[str], schema: dict[str, Any]) -> Any:
    """Turn form values into the JSON type the schema declares; ValueError if impossible."""
    kind = schema.get("type")
    if kind == "array":
        return [_coerce(name, [v], schema.get("items", {})) for v in values]
    if len(values) > 1:
        raise ValueError(f"{name}: given {len(values)} times but is not an array field")
    value = values[0]
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a form-encoded {kind}") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{name}: {value!r} is not a form-encoded boolean ('true'/'false')")
        return value.lower() == "true"
    return value


def validate_twilio_request(rec: RecordedRequest, *, strict: bool = False) -> dict[str, Any]:
    """Assert ``rec`` is a valid Twilio ``CreateMessage`` request; return the typed fields.

    Form fields are checked against the form-encoded request schema (required fields, types
    after decoding the strings, enums, patterns) and the spec's ``x-twilio.conditional``
    groups (one of From/MessagingServiceSid, one of Body/MediaUrl/ContentSid). Unknown
    fields are errors when the schema forbids them, or always with ``strict=True``.
    """
    op = _operation(TWILIO_SPEC, TWILIO_OPERATION)
    problems = op.check_request_line(rec, FORM)
    schema = op.request_schema(FORM)
    props: dict[str, Any] = schema.get("properties", {})
    try:
        fields = parse_qs(rec.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        fields = {}
        problems.append("body is not UTF-8")
    typed: dict[str, Any] = {}
    for name, values in fields.items():
        if name not in props:
            if strict or schema.get("additionalProperties") is False:
                problems.append(f"{name}: not a field of {TWILIO_OPERATION}")
            continue
        try:
            typed[name] = _coerce(name, values, props[name])
        except ValueError as exc:
            problems.append(str(exc))
    problems += _errors(schema, typed)
    for group in op.op.get("x-twilio", {}).get("conditional", []):
        names = [_pascal(g) for g in group]
        if not any(n in typed for n in names):
            problems.append(f"one of {', '.join(names)} is required")
    _fail(f"Twilio request does not match the {TWILIO_OPERATION} contract", problems)
    return typed


def validate_twilio_message(payload: Any, status: int = 201) -> None:
    """Assert ``payload`` matches the spec's ``CreateMessage`` response schema."""
    op = _operation(TWILIO_SPEC, TWILIO_OPERATION)
    _fail(
        f"Twilio {status} body does not match the {TWILIO_OPERATION} contract",
        _errors(op.response_schema(status), payload),
    )


# --------------------------------------------------------------------------- Slack
# The Slack spec is Swagger 2.0: a method's arguments are ``formData`` parameters (each a
# string, boolean or integer), the token is a ``header`` parameter named ``token`` (sent as
# ``Authorization: Bearer ...``), and the operation's ``consumes`` lists the accepted bodies.
JSON = "application/json"


def slack_contract_available() -> bool:
    """True when the Slack Web API spec file is present."""
    return (CONTRACTS_DIR / SLACK_SPEC).is_file()


class _SlackMethod:
    """One Slack Web API method of the Swagger 2.0 spec."""

    def __init__(self, spec: dict[str, Any], name: str) -> None:
        item = spec.get("paths", {}).get(f"/{name}")
        if not item:
            raise AssertionError(f"{SLACK_SPEC} has no method {name!r}")
        [(verb, op)] = [(k, v) for k, v in item.items() if isinstance(v, dict)]
        self.spec = spec
        self.name = name
        self.op: dict[str, Any] = op
        self.http_method = verb.upper()
        self.path = f"{spec.get('basePath', '')}/{name}"
        self.consumes: list[str] = op.get("consumes", spec.get("consumes", []))
        params = op.get("parameters", [])
        self.form: dict[str, dict[str, Any]] = {
            p["name"]: p for p in params if p.get("in") == "formData"
        }
        self.headers: dict[str, dict[str, Any]] = {
            p["name"]: p for p in params if p.get("in") == "header"
        }

    def response_schema(self, status: int | str = 200) -> dict[str, Any]:
        """The response schema for ``status`` (``"default"``: the error body)."""
        try:
            schema = self.op["responses"][str(status)]["schema"]
        except KeyError:
            raise AssertionError(f"{self.name} has no {status} response schema") from None
        # '#/definitions/...' references resolve against the root: put the spec's there.
        return {**schema, "definitions": self.spec.get("definitions", {})}


@cache
def _slack_method(name: str) -> _SlackMethod:
    spec = _load(SLACK_SPEC)
    if spec is None:
        raise FileNotFoundError(CONTRACTS_DIR / SLACK_SPEC)
    return _SlackMethod(spec, name)


def slack_arguments(rec: RecordedRequest) -> tuple[dict[str, Any], list[str]]:
    """A Slack call's arguments (query string, then JSON or form body) and decoding problems."""
    ctype = rec.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    query = parse_qs(urlsplit(rec.path).query, keep_blank_values=True)
    fields: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in query.items()}
    if not rec.body:
        return fields, []
    try:
        text = rec.body.decode("utf-8")
    except UnicodeDecodeError:
        return fields, ["body is not UTF-8"]
    if ctype == JSON:
        try:
            data = json.loads(text)
        except ValueError as exc:
            return fields, [f"body is not JSON: {exc}"]
        if not isinstance(data, dict):
            return fields, ["the JSON body is not an object"]
        return {**fields, **data}, []
    form = parse_qs(text, keep_blank_values=True)
    return {**fields, **{k: v[0] if len(v) == 1 else v for k, v in form.items()}}, []


def _slack_value(name: str, value: Any, param: dict[str, Any], json_body: bool) -> list[str]:
    """Problems with one argument, given its spec ``type`` (form values are all strings)."""
    kind = param.get("type", "string")
    if isinstance(value, list) and not json_body:
        return [f"{name}: given {len(value)} times"]
    # "A JSON-based array of structured blocks, presented as a URL-encoded string": a string
    # holding JSON in a form body; a JSON body may carry the array itself.
    structured = "JSON" in param.get("description", "")
    if structured:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return [f"{name}: not JSON"]
        if not isinstance(value, list):
            return [f"{name}: not a JSON array"]
        return []
    if kind == "boolean":
        if isinstance(value, bool) or value in (0, 1):
            return []
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return []
        return [f"{name}: {value!r} is not a boolean"]
    if kind in ("integer", "number"):
        if isinstance(value, str):
            try:
                int(value) if kind == "integer" else float(value)
            except ValueError:
                return [f"{name}: {value!r} is not an {kind}"]
            return []
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{name}: {value!r} is not an {kind}"]
    # string: in a JSON body Slack also takes a plain JSON scalar (slack_sdk sends booleans)
    if isinstance(value, str) or (json_body and isinstance(value, bool | int | float)):
        return []
    return [f"{name}: {type(value).__name__} where the spec says {kind}"]


def _slack_check(rec: RecordedRequest, method: str) -> tuple[dict[str, Any], list[str]]:
    op = _slack_method(method)
    problems = []
    if rec.method != op.http_method:
        problems.append(f"method {rec.method} (the spec says {op.http_method})")
    path = urlsplit(rec.path).path
    if path != op.path:
        problems.append(f"path {path!r} (the spec says {op.path!r})")
    ctype = rec.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if rec.body and ctype not in op.consumes:
        problems.append(f"Content-Type {ctype!r} (the spec says one of {op.consumes})")
    for name, param in op.headers.items():
        if name == "token":
            scheme, _, token = rec.headers.get("Authorization", "").partition(" ")
            if param.get("required") and (scheme.lower() != "bearer" or not token.strip()):
                problems.append("token: required, as 'Authorization: Bearer <token>'")
        elif param.get("required") and name not in rec.headers:
            problems.append(f"header {name}: required")
    fields, decoding = slack_arguments(rec)
    problems += decoding
    json_body = ctype == JSON
    for name, value in fields.items():
        if name not in op.form:
            problems.append(f"{name}: not an argument of {method}")
        else:
            problems += _slack_value(name, value, op.form[name], json_body)
    problems += [
        f"{name}: required"
        for name, param in op.form.items()
        if param.get("required") and name not in fields
    ]
    return fields, problems


def slack_request_problems(rec: RecordedRequest, method: str) -> list[str] | None:
    """Problems of ``rec`` against the spec's Slack ``method`` (say ``chat.postMessage``).

    Checks the HTTP method, path, Content-Type, the bearer token, that every required
    argument is present and that no argument is one the spec does not list, and each
    argument's type. ``None`` when the spec is absent (nothing was checked).
    """
    if not slack_contract_available():
        return None
    return _slack_check(rec, method)[1]


def validate_slack_request(rec: RecordedRequest, method: str | None = None) -> dict[str, Any]:
    """Assert ``rec`` is a valid call of a Slack method (by default: its path's last part).

    Returns the arguments; skips the test when the spec is absent.
    """
    _spec(SLACK_SPEC)
    method = method or urlsplit(rec.path).path.rsplit("/", 1)[-1]
    fields, problems = _slack_check(rec, method)
    _fail(f"Slack request does not match the {method} contract", problems)
    return fields


def validate_slack_response(method: str, payload: Any, status: int | str = 200) -> None:
    """Assert ``payload`` matches the spec's ``status`` response schema of Slack ``method``.

    ``status="default"`` is the error body. (The spec's ``chat.update`` success schema says
    ``message.blocks`` is an object, where Slack answers an array: don't check it there.)
    """
    _spec(SLACK_SPEC)
    schema = _slack_method(method).response_schema(status)
    errors = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}"
        for e in sorted(
            Draft4Validator(schema).iter_errors(payload),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
    ]
    _fail(f"Slack {method} {status} body does not match the contract", errors)


# --------------------------------------------------------------------------- Adaptive Cards
# The Adaptive Card 1.5 schema is JSON Schema draft-06. Elements and actions are ``anyOf``
# lists of ``{"required": ["type"], "allOf": [{"$ref": ...}]}``, one per type: a plain
# validator only says "not valid under any of the given schemas", so ``_card_errors``
# names an unknown type, or explains the branch whose ``type`` matched.


def adaptive_card_contract_available() -> bool:
    """True when the Adaptive Card 1.5 schema file is present."""
    return (CONTRACTS_DIR / ADAPTIVE_CARD_SCHEMA).is_file()


@cache
def _card_validator(path: Path) -> Draft6Validator:
    schema = _read(path)
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema, format_checker=Draft6Validator.FORMAT_CHECKER)


def _where(error: ValidationError, at: str, *more: str) -> str:
    """``error``'s place as a ``/`` path under ``at`` (``"(card)"`` for the card itself)."""
    parts = [at] if at else []
    parts += [str(p) for p in error.absolute_path] + list(more)
    return "/".join(parts) or "(card)"


def _names_type(error: ValidationError) -> bool:
    """True for a branch's "wrong ``type``" error (the ``enum`` of its ``type`` property)."""
    return error.validator == "enum" and list(error.relative_path) == ["type"]


def _explain(error: ValidationError, at: str) -> list[str]:
    """``error`` as ``"<path>: <message>"`` lines, an ``anyOf`` of typed items explained."""
    if error.validator != "anyOf" or not error.context:
        return [f"{_where(error, at)}: {error.message}"]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    known = sorted(
        {
            str(v)
            for subs in branches.values()
            for e in subs
            if _names_type(e)
            for v in e.validator_value
        }
    )
    if known and isinstance(error.instance, dict):
        matching = [subs for subs in branches.values() if not any(map(_names_type, subs))]
        if not matching:
            kind = error.instance.get("type")
            where = _where(error, at, "type")
            return [f"{where}: unknown type {kind!r} (known here: {', '.join(known)})"]
        return [line for subs in matching for e in subs for line in _explain(e, at)]
    best = best_match(error.context)
    return _explain(best, at) if best is not None else [f"{_where(error, at)}: {error.message}"]


def _card_errors(validator: Draft6Validator, card: Any, at: str) -> list[str]:
    out: list[str] = []
    for error in sorted(
        validator.iter_errors(card), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        out += [line for line in _explain(error, at) if line not in out]
    return out


def adaptive_card_problems(card: Any, at: str = "") -> list[str] | None:
    """Problems of an Adaptive Card against the official 1.5 schema, as ``"<path>: ..."``.

    Paths start at the card, under ``at`` when given (say ``"attachments/0/content"``).
    The schema leaves ``version`` open (any string): checking it is up to the caller.
    ``None`` when the schema is absent (nothing was checked).
    """
    path = CONTRACTS_DIR / ADAPTIVE_CARD_SCHEMA
    if not path.is_file():
        return None
    return _card_errors(_card_validator(path), card, at)


def validate_adaptive_card(card: Any) -> None:
    """Assert ``card`` is valid under the Adaptive Card 1.5 schema; skip when it is absent."""
    _spec(ADAPTIVE_CARD_SCHEMA)
    _fail("Adaptive Card does not match the 1.5 schema", adaptive_card_problems(card) or [])
