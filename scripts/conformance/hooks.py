"""Schemathesis hooks for verity's conformance run (scripts/conformance.sh).

Two facts of the API cannot be written in JSON Schema, so the generator is told them here,
and nothing else is changed:
- an image field must hold an image, and the flows need a face in it: `format: binary`
  (multipart) and `format: byte` (JSON, base64) draw from real photos with one face each;
- `expires_at` must lie in the future: `format: date-time` draws times from one day to ten
  years ahead.
Every other value (ids, numbers, enums, unknown fields, wrong types) comes from the schema.
"""

import base64
import datetime
import os
import pathlib
import re

import schemathesis
from hypothesis import strategies as st

_REPO = pathlib.Path(__file__).resolve().parents[2]
_DIR = pathlib.Path(os.environ.get("VERITY_TESTDATA", _REPO / "../shared/testdata"))
# One live face each (see ../shared/testdata/README.md).
_PHOTOS = [(_DIR / name).read_bytes() for name in ("image_T1.jpg", "obama2.jpg")]

schemathesis.openapi.format("binary", st.sampled_from(_PHOTOS))
schemathesis.openapi.format("byte", st.sampled_from([base64.b64encode(p).decode() for p in _PHOTOS]))

_NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
schemathesis.openapi.format(
    "date-time",
    st.integers(min_value=86_400, max_value=10 * 365 * 86_400).map(
        lambda s: (_NOW + datetime.timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
    ),
)


_PART_NAME = re.compile(rb'Content-Disposition: form-data; name="([^"]*)"')


def _multipart_parts_are_valid(case, response):
    """Whether the parts that reached the server are a valid set for the operation's schema:
    every required name there, no undeclared one (so a structural violation stayed in the
    generator: e.g. a null value, which a form body cannot carry, is left out)."""
    body = getattr(response.request, "body", None)
    if not isinstance(body, bytes):
        return False
    sent = {m.decode("utf-8", "replace") for m in _PART_NAME.findall(body)}
    schema = case.operation.definition.raw["requestBody"]["content"]["multipart/form-data"]["schema"]
    for variant in schema.get("oneOf", [schema]):
        declared = set(variant.get("properties", {}))
        if set(variant.get("required", [])) <= sent <= declared:
            return True
    return False


# Three verdicts of the checks are wrong about this API, and only those are dropped:
# - a schema-violating multipart body accepted, when the violation is a `type` change of a text
#   field (a part is text whatever it was generated as: `false` arrives as the text "false", a
#   valid external_id), or a `required`/`additionalProperties` one that never reached the wire
#   (the parts sent are a valid set: see above);
# - a 404 `face_not_found` from a search: the face_id in the body is not in the collection, which
#   ensure_resource_availability reads as the collection (the path) gone after its creation.
@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code == "ST201" and (case.media_type or "").startswith("multipart/form-data"):
        data = getattr(getattr(case.meta, "phase", None), "data", None)
        mutations = getattr(data, "mutations", ()) or ()
        if mutations and all(m.keywords == ("type",) and m.original_value == "string" for m in mutations):
            return False
        structural = {"required", "additionalProperties"}
        if mutations and all(set(m.keywords) <= structural for m in mutations):
            return not _multipart_parts_are_valid(case, response)
    if failure.code == "ST302" and response.status_code == 404:
        try:
            return response.json().get("code") != "face_not_found"
        except ValueError:
            return True
    return True
