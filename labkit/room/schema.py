"""The declared shape of what the room server accepts and stores: a posted report (``POST
/report``: the output of ``main.py --json``, with a name and the kit's key) and a stored record,
checked by fastjsonschema (which JupyterLab already installs, through nbformat: it is in every
lock). Every value has a type, every string a length, every list and object a size, and no
part of the schema accepts an arbitrary value, so the schema also bounds the nesting depth.

fastjsonschema rather than jsonschema: it compiles the schema into Python once, so checking
every stored file again each time the page refreshes (1,000 reports) stays cheap."""

from __future__ import annotations

from typing import Any

import fastjsonschema

MAX_NAME = 64
KIT_PATTERN = r"^[A-Za-z0-9_-]{16,128}$"

SCALAR = {"type": ["string", "number", "boolean", "null"], "maxLength": 2000}
SCALARS = {"type": "array", "maxItems": 200, "items": SCALAR}
LEAF = {"anyOf": [SCALAR, SCALARS]}


def _object(values: dict[str, Any], size: int = 100, **properties: Any) -> dict[str, Any]:
    """An object of at most ``size`` keys (each at most 100 characters) whose ``properties``
    have their own schema and every other key the schema ``values``."""
    return {
        "type": "object",
        "maxProperties": size,
        "propertyNames": {"maxLength": 100},
        "properties": properties,
        "additionalProperties": values,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, schema]}


def _array(items: dict[str, Any], size: int = 64) -> dict[str, Any]:
    return {"type": "array", "maxItems": size, "items": items}


FLAT = _object(LEAF)  # {"key": scalar or list of scalars}
SHALLOW = {"anyOf": [LEAF, FLAT]}
NESTED = _object(SHALLOW)
FINDING = {
    "type": "object",
    "required": ["level", "message"],
    "additionalProperties": False,
    "properties": {
        "level": {"enum": ["PASS", "INFO", "WARN", "FAIL"]},
        "message": {"type": "string", "maxLength": 2000},
        "fix": {"type": "string", "maxLength": 4000},
    },
}

# main.py --json (labkit/install/doctor/render.py), the fields the page reads typed exactly; a field a
# newer main.py may add is accepted when it is shallow (NESTED).
REPORT = {
    "type": "object",
    "required": ["ok", "diagnosis"],
    "maxProperties": 40,
    "propertyNames": {"maxLength": 100},
    "properties": {
        "ok": {"type": "boolean"},
        "exit_code": {"type": "integer", "minimum": 0, "maximum": 255},
        "diagnosis": _array(FINDING, 100),
        "versions": _object(
            SHALLOW,
            python=SCALAR,
            tensorflow=SCALAR,
            tensorflow_distributions=_nullable(_object(SCALAR, 20)),
        ),
        "system": _object(SHALLOW, os=SCALAR, machine=SCALAR),
        "tensorflow": _object(
            SHALLOW,
            devices=_nullable(_array(FLAT)),
            log=_nullable(SCALARS),
            log_harmless=_nullable(SCALARS),
        ),
        "driver": _object(SHALLOW, gpus=_nullable(_array(FLAT))),
        "datasets": _nullable(_object(FLAT, 20)),
        "smoke": _nullable(_array(FLAT)),
        "bench": _nullable(_object({"anyOf": [SHALLOW, _array(FLAT)]}, 20)),
        "reasons": _object(SCALAR),
        "elapsed_s": {"type": ["number", "null"]},
    },
    "additionalProperties": {"anyOf": [SHALLOW, NESTED]},
}

POST = {
    "type": "object",
    "required": ["name", "kit", "report"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 4 * MAX_NAME},
        "kit": {"type": "string", "pattern": KIT_PATTERN},
        "report": REPORT,
    },
}

RECORD = {
    "type": "object",
    "required": ["name", "received", "address", "kit_sha256", "report"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
        "received": {"type": "number"},
        "address": {"type": "string", "maxLength": 100},
        "kit_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "report": REPORT,
    },
}

_check_post = fastjsonschema.compile(POST)
_check_record = fastjsonschema.compile(RECORD)


def problem(document: Any, record: bool = False) -> str | None:
    """None when ``document`` is a valid post (``record``: a valid stored record), else what is
    wrong, in one line ("report.versions must be object")."""
    try:
        (_check_record if record else _check_post)(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = exc.message.replace("data.", "", 1).replace("data ", "the body ", 1)
        return " ".join(where.split())[:300]
    except RecursionError:
        return "it is nested too deeply"
    return None
