"""Schemathesis hooks of the contract test (TestContractWithSchemathesis).

Loaded through SCHEMATHESIS_HOOKS. CONTRACT_WORKSPACE is the fake Databricks
workspace the local API runs with (JSON: host, catalog, schema, volume,
prefix and the credentials it accepts). The hooks

- point requests at the fake workspace, so that the success paths (201, 200)
  are reached and the stateful phase has storages to get, update and delete:
  in positive test cases, a body with the document's placeholder host (its
  examples) and half of the other bodies (by a hash of the generated host)
  get connection fields (host, catalog, schema, volume, prefix and the
  auth_type's credentials) that the fake workspace accepts; their other
  fields stay as generated. The other half, and every negative case, are
  sent as generated: the host guard refuses their hosts (400);
- add the check `no_secret_in_response`: no response (body or headers) may
  carry a `token` or `client_secret` value that a request of the run sent,
  when the value is non-trivial (8 characters or more) and is not part of a
  value the run sent in a field that is not secret (a title may legitimately
  be echoed, and hold the same text) nor of a text of the document
  (CONTRACT_DOCUMENT: schemathesis draws strings from it, and responses name
  fields and choices). The document's own response is not scanned: it is
  the embedded file, byte for byte (TestOpenAPIDocumentIsServed), and holds
  the placeholder credentials of its examples;
- write the non-trivial secret values to CONTRACT_SECRETS_FILE at the end,
  for the Go test to look for in the service's logs;
- keep every failure but these kinds, each counted and printed at the end:
  * `negative_data_rejection` (ST201) for a request that is valid once
    Django REST framework's parsing is applied: Label Studio accepts 0/1 and
    "true"/"yes"/"off"… as booleans, "5", " 5 " and 5.0 as integers, numbers
    as text, and so does this service on purpose (internal/storage/decode.go);
    the document keeps Label Studio's types. A value DRF would refuse, or a
    negative header, query or path, still fails the run;
  * `negative_data_rejection` for a body that matches the document as it is:
    schemathesis's coverage phase labels some bodies negative for a property
    the document does not define (the bodies allow other properties).
"""

import atexit
import json
import os
import re
import sys
import threading
import zlib

import jsonschema_rs
import schemathesis
import yaml
from schemathesis import GenerationMode

PLACEHOLDER_HOST = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"
WORKSPACE = json.loads(os.environ.get("CONTRACT_WORKSPACE", "{}"))
DOCUMENT_PATH = "/api/storages/databricks-openapi.yaml"

SECRET_FIELDS = ("token", "client_secret")
MIN_SECRET_LENGTH = 8
CONNECTION_FIELDS = ("host", "catalog", "schema", "volume", "prefix", "auth_type", "token",
                     "client_id", "client_secret", "tenant_id")

# The request fields by the Django REST framework field that parses them.
BOOLEAN_FIELDS = {"synchronizable", "presign", "recursive_scan", "use_blob_urls", "verify_tls", "can_delete_objects"}
INTEGER_FIELDS = {"last_sync_count", "request_timeout_s", "stream_chunk_bytes", "presign_ttl"}
TEXT_FIELDS = {"title", "description", "last_sync_job", "traceback", "prefix", "regex_filter", "host",
               "catalog", "schema", "volume", "token", "client_id", "client_secret", "tenant_id"}
DRF_TRUE = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1"}
DRF_FALSE = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0"}

_lock = threading.Lock()
_secrets = set()  # the secret values requests carried
_plain = set()  # every other text requests carried
_candidates = set()  # the secrets that are non-trivial and part of no plain value
_stats = {"responses": 0, "placeholder": 0, "connected": 0, "drf_coercions": 0, "mislabelled_negative": 0}


def _texts(value):
    """Every string (keys included) in a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v)
    elif value is not None:
        yield str(value)


def _document_texts(value):
    """Every string of the OpenAPI document but its examples' secret values:
    schemathesis draws strings from the document (property names, enum
    values, examples), and responses name fields and choices too."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            if not (k in SECRET_FIELDS and isinstance(v, str)):
                yield from _document_texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _document_texts(v)
    elif value is not None:
        yield str(value)


if os.environ.get("CONTRACT_DOCUMENT"):
    with open(os.environ["CONTRACT_DOCUMENT"], encoding="utf-8") as f:
        _plain.update(_document_texts(yaml.safe_load(f)))


def _record(case):
    """Records the request's secret and non-secret values (before it is
    sent, so that whatever a response echoes is known by then)."""
    body = case.body if isinstance(case.body, dict) else {}
    secrets = {body[f] for f in SECRET_FIELDS if isinstance(body.get(f), str)}
    plain = set()
    for k, v in body.items():
        plain.add(str(k))
        if k not in SECRET_FIELDS:
            plain.update(_texts(v))
    for part in (case.query, case.path_parameters, dict(case.headers or {})):
        plain.update(_texts(part or {}))
    if not isinstance(case.body, dict):
        plain.update(_texts(case.body))
    with _lock:
        new_plain = plain - _plain
        _plain.update(new_plain)
        _candidates.difference_update({s for s in _candidates if any(s in p for p in new_plain)})
        for s in secrets - _secrets:
            _secrets.add(s)
            if len(s) >= MIN_SECRET_LENGTH and not any(s in p for p in _plain):
                _candidates.add(s)


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


def _connect(body):
    """Gives the body connection fields the fake workspace accepts, for its
    auth_type (pat when it names none); the fake's prefix is kept, any other
    is dropped."""
    mode = body.get("auth_type") if body.get("auth_type") in ("pat", "dbx_sp", "azure_ad_sp") else "pat"
    keep_prefix = body.get("prefix") == WORKSPACE["prefix"]
    for field in CONNECTION_FIELDS:
        body.pop(field, None)
    body.update(host=WORKSPACE["host"], catalog=WORKSPACE["catalog"], schema=WORKSPACE["schema"],
                volume=WORKSPACE["volume"], auth_type=mode)
    if keep_prefix:
        body["prefix"] = WORKSPACE["prefix"]
    if mode == "pat":
        body["token"] = WORKSPACE["pat"]
    elif mode == "dbx_sp":
        body.update(client_id=WORKSPACE["sp_client_id"], client_secret=WORKSPACE["sp_client_secret"])
    else:
        body.update(tenant_id=WORKSPACE["azure_tenant"], client_id=WORKSPACE["azure_client_id"],
                    client_secret=WORKSPACE["azure_client_secret"])


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if WORKSPACE and isinstance(body, dict) and isinstance(body.get("host"), str) and _positive(case):
        host = body["host"]
        if host == PLACEHOLDER_HOST:
            key = "placeholder"
        elif zlib.crc32(host.encode("utf-8", "replace")) % 2 == 0:
            key = "connected"
        else:
            key = None
        if key:
            _connect(body)
            with _lock:
                _stats[key] += 1
    _record(case)


def _drf_integer(value, primary_key=False):
    """The integer Django REST framework reads from value, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if not isinstance(value, str) or len(value) > 1000:
        return None
    # IntegerField drops a trailing ".0…"; a primary key is read by int() alone.
    text = value if primary_key else re.sub(r"\.0*\s*$", "", value)
    try:
        return int(text)
    except ValueError:
        return None


def _drf_parsed(body):
    """The body as Django REST framework's fields read it: the values its
    parsing accepts, in the JSON type the document names for them."""
    out = dict(body)
    for name, value in body.items():
        if name in BOOLEAN_FIELDS and not isinstance(value, bool):
            if isinstance(value, (int, float)) and value in (0, 1):
                out[name] = value == 1
            elif isinstance(value, str) and value in DRF_TRUE | DRF_FALSE:
                out[name] = value in DRF_TRUE
        elif name in INTEGER_FIELDS | {"project", "id", "limit"} and not isinstance(value, int):
            # project is a primary key; id and limit are read as plain integers.
            n = _drf_integer(value, primary_key=name not in INTEGER_FIELDS)
            if n is not None:
                out[name] = n
        elif name in TEXT_FIELDS and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = str(value)
    return out


def _body_accepted(case):
    """Why a case generated as negative is valid for the document after
    all: "drf" when only its body is negative and that body, as Django REST
    framework's parsing reads it, matches the document; "matches" when the
    body matches the document as it is (the coverage phase sometimes labels
    a body negative for a property the document does not have, in a body
    that may have other properties). None otherwise."""
    meta = case.meta
    if meta is None or not isinstance(case.body, dict):
        return None
    for location, component in meta.components.items():
        if location.value != "body" and component.mode == GenerationMode.NEGATIVE:
            return None
    alternative = case.operation.get_body_for_media_type(case.media_type or "application/json")
    if alternative is None:
        return None
    validator = jsonschema_rs.Draft4Validator(alternative.validation_schema)
    if validator.is_valid(case.body):
        return "matches"
    if validator.is_valid(_drf_parsed(case.body)):
        return "drf"
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but the kinds the module's doc names."""
    if getattr(failure, "code", "") == "ST201" and (why := _body_accepted(case)):
        key = {"drf": "drf_coercions", "matches": "mislabelled_negative"}[why]
    else:
        return True
    with _lock:
        _stats[key] += 1
    return False


def _spellings(secret):
    """The secret as it may appear in a JSON text: as it is, and escaped."""
    yield secret
    yield json.dumps(secret)[1:-1]
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    # Go's encoding/json also escapes <, >, & and U+2028/U+2029.
    go = json.dumps(secret, ensure_ascii=False)[1:-1]
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        go = go.replace(ch, esc)
    yield go


@schemathesis.check
def no_secret_in_response(ctx, response, case):
    """A response never carries a token or client_secret a request sent."""
    _record(case)
    if case.path == DOCUMENT_PATH:
        return True
    with _lock:
        _stats["responses"] += 1
        secrets = set(_candidates)
    if not secrets:
        return True
    text = response.content.decode("utf-8", errors="replace")
    decoded = []
    try:
        decoded = list(_texts(json.loads(text)))
    except ValueError:
        pass
    headers = [f"{k}: {v}" for k, vs in response.headers.items() for v in (vs if isinstance(vs, list) else [vs])]
    for secret in secrets:
        for where, haystacks in (("body and its strings", [text] + decoded), ("headers", headers)):
            if any(spelling in h for spelling in _spellings(secret) for h in haystacks):
                raise AssertionError(
                    f"The response's {where} hold a value a request sent as token or client_secret "
                    f"({len(secret)} characters, starting {secret[:3]!r})"
                )
    return True


@atexit.register
def _summary():
    # The Go test looks for these values in the service's logs too.
    if os.environ.get("CONTRACT_SECRETS_FILE"):
        with open(os.environ["CONTRACT_SECRETS_FILE"], "w", encoding="utf-8") as f:
            json.dump(sorted(_candidates), f)
    print(
        f"contract hooks: no_secret_in_response checked {_stats['responses']} responses against "
        f"{len(_candidates)} non-trivial secret values ({len(_secrets)} sent); pointed at the fake workspace: "
        f"{_stats['placeholder']} example bodies, {_stats['connected']} generated ones; failures dropped: "
        f"negative_data_rejection: {_stats['drf_coercions']} of values DRF's parsing accepts, "
        f"{_stats['mislabelled_negative']} of bodies that match the document",
        file=sys.stderr,
    )
