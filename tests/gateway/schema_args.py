"""Schema-valid example values from a tool's JSON Schema (2020-12), for the Prism call sweep.

`arguments(input_schema)` returns a dict of arguments with every property filled in (optional
ones too: they are where serialization bugs hide), each value valid against its schema. A value
this module can not make valid (an unsatisfiable pattern, say) raises `Unsatisfiable` for a
required property and leaves an optional one out. `check(schema, value)` validates with the
`jsonschema` package (formats included), so a generator mistake is caught here and never blamed
on the gateway.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import jsonschema

try:  # Python 3.11+
    from re import _constants as sre_c  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]


class Unsatisfiable(Exception):
    """No valid value could be made for a schema."""


MAX_DEPTH = 6

FORMATS = {
    "date-time": "2024-01-02T03:04:05Z",
    "date": "2024-01-02",
    "time": "03:04:05Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/a",
    "url": "https://example.com/a",
    "uri-reference": "https://example.com/a",
    "iri": "https://example.com/a",
    "iri-reference": "https://example.com/a",
    "uri-template": "https://example.com/{a}",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "duration": "P1D",
    "byte": base64.b64encode(b"toolyard").decode(),
    "binary": "toolyard",
    "password": "secret",
    "json-pointer": "/a/b",
    "relative-json-pointer": "0/a",
    "regex": "^a+$",
    "int32": "1",
    "int64": "1",
}


# The `$defs` of the input schema being filled in: tool schemas refer to shared definitions
# (`{"$ref": "#/$defs/Name"}`), and sub-schemas are generated and checked on their own.
_DEFS: dict = {}


def arguments(schema: dict) -> dict:
    """A complete argument object for a tool input schema."""
    global _DEFS
    defs = schema.get("$defs") if isinstance(schema, dict) else None
    _DEFS = defs if isinstance(defs, dict) else {}
    value = generate(schema, 0, top=True)
    if not isinstance(value, dict):
        raise Unsatisfiable("the input schema does not describe an object")
    return value


# jsonschema checks `date-time` and `time` only when an optional package is installed; without
# it a documented example such as SendGrid's `"now"` for a date-time passed here and was then
# refused by the gateway's own argument check. These are RFC 3339's grammar, checked always.
FORMAT_CHECKER = jsonschema.FormatChecker(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)
_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(f"{_DATE}[Tt]{_TIME}", value) is not None


@FORMAT_CHECKER.checks("time")
def _is_time(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(_TIME, value) is not None


def check(schema: Any, value: Any) -> str | None:
    """None when `value` is valid against `schema`, else the first error's message."""
    if isinstance(schema, dict) and _DEFS and "$defs" not in schema:
        schema = {**schema, "$defs": _DEFS}
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    error = next(iter(validator.iter_errors(value)), None)
    return None if error is None else f"{'/'.join(map(str, error.absolute_path))}: {error.message}"


def resolve(schema: Any) -> Any:
    """A `{"$ref": "#/$defs/Name", ...}` as the definition with the keywords beside the `$ref`."""
    for _ in range(16):
        if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
            break
        reference = schema["$ref"]
        target = _DEFS.get(reference[len("#/$defs/"):]) if reference.startswith("#/$defs/") else None
        if not isinstance(target, dict):
            break
        schema = merge(target, {k: v for k, v in schema.items() if k != "$ref"})
    return schema


def generate(schema: Any, depth: int, top: bool = False) -> Any:
    schema = resolve(schema)
    if schema is True or schema == {}:
        return "x"
    if schema is False or not isinstance(schema, dict):
        raise Unsatisfiable("false schema")
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        valid = [v for v in schema["enum"] if v is not None and check({k: v2 for k, v2 in schema.items() if k != "enum"}, v) is None]
        if not valid:
            raise Unsatisfiable(f"no member of enum {schema['enum'][:5]} is valid against the rest of its schema")
        return valid[0]
    # A documented example first: alternatives (`oneOf` of number and string, say) can both
    # match what a made-up value looks like once it is query text.
    for example in schema.get("examples") or []:
        if example is not None and check(schema, example) is None and not top:
            return example
    if isinstance(schema.get("allOf"), list):
        return generate(merge_all_of(schema), depth, top)
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            rest = {k: v for k, v in schema.items() if k != key}
            last: Exception | None = None
            fallback: list = []
            for option in options:
                try:
                    candidate = generate(merge(rest, option) if isinstance(option, dict) else option, depth, top)
                except Unsatisfiable as error:
                    last = error
                    continue
                if check(schema, candidate) is None:
                    if key == "anyOf" or not ambiguous_as_text(options, candidate):
                        return candidate
                    fallback = fallback or [candidate]
            if fallback:
                return fallback[0]
            raise Unsatisfiable(f"no {key} option gives a valid value ({last})")
    for example in schema.get("examples") or []:
        if example is not None and check(schema, example) is None and not top:
            return example
    if "default" in schema and schema["default"] is not None and check(schema, schema["default"]) is None and not top:
        return schema["default"]
    kind = pick_type(schema)
    if kind == "object":
        return make_object(schema, depth, top)
    if kind == "array":
        return make_array(schema, depth)
    if kind == "integer":
        return make_number(schema, integer=True)
    if kind == "number":
        return make_number(schema, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return make_string(schema)


def ambiguous_as_text(options: list, value: Any) -> bool:
    """Whether a `oneOf` value also matches another option once it is text in a URL or a header
    (`1` for `oneOf: [integer, string]` arrives as "1", which both accept, so a validator such as
    Prism rejects it: GitHub's `workflow_id`). Such a value is used only if no option gives an
    unambiguous one."""
    if isinstance(value, bool):
        forms = [value, str(value).lower()]
    elif isinstance(value, (int, float)):
        forms = [value, str(value)]
    elif isinstance(value, str):
        forms = [value]
        try:
            forms.append(json.loads(value))
        except ValueError:
            pass
    else:
        return False
    matching = sum(1 for o in options if any(check(o, f) is None for f in forms))
    return matching > 1


def pick_type(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or ["null"]
        return kinds[0]
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        elif key == "required" and isinstance(out.get(key), list) and isinstance(value, list):
            out[key] = list(dict.fromkeys(out[key] + value))
        else:
            out[key] = value
    return out


def merge_all_of(schema: dict) -> dict:
    out = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = resolve(part)
        if isinstance(part, dict):
            if "allOf" in part:
                part = merge_all_of(part)
            out = merge(out, part)
    return out


def make_object(schema: dict, depth: int, top: bool) -> dict:
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    out: dict = {}
    for name, sub in properties.items():
        sub = resolve(sub)
        if name not in required and (depth >= MAX_DEPTH or (sub is True and not top)):
            continue
        if isinstance(sub, dict) and (sub.get("readOnly") is True or sub.get("deprecated") is True) and name not in required:
            continue
        try:
            value = generate(sub, depth + 1)
        except Unsatisfiable:
            if name in required:
                raise
            continue
        if check(sub, value) is not None:
            if name in required:
                raise Unsatisfiable(f"property {name}: {check(sub, value)}")
            continue
        out[name] = value
    for name in required:
        if name not in out:
            extra = schema.get("additionalProperties", True)
            out[name] = generate(extra if isinstance(extra, dict) else True, depth + 1)
    minimum = schema.get("minProperties") or 0
    extra = schema.get("additionalProperties")
    if (not properties and isinstance(extra, dict)) or len(out) < minimum:
        sub = extra if isinstance(extra, dict) else True
        i = 0
        while len(out) < max(minimum, 1) and i < 20 and extra is not False:
            out[f"key{i}"] = generate(sub, depth + 1)
            i += 1
    return out


def make_array(schema: dict, depth: int) -> list:
    items = schema.get("items", True)
    lo = schema.get("minItems") or 0
    hi = schema.get("maxItems")
    count = max(lo, 1 if hi is None or hi >= 1 else 0)
    if depth >= MAX_DEPTH and lo == 0:
        return []
    prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
    out = [generate(p, depth + 1) for p in prefix]
    if schema.get("uniqueItems") and isinstance(items, dict) and isinstance(items.get("enum"), list):
        pool = [v for v in items["enum"] if v is not None]
        out.extend(pool[: max(0, count - len(out))])
    while len(out) < count:
        value = generate(items, depth + 1)
        if schema.get("uniqueItems") and value in out:
            if isinstance(value, str):
                value = f"{value}{len(out)}"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = value + len(out)
        out.append(value)
    return out


def make_number(schema: dict, integer: bool) -> int | float:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    xlo = schema.get("exclusiveMinimum")
    xhi = schema.get("exclusiveMaximum")
    step = schema.get("multipleOf")
    candidates: list[float] = [1]
    if lo is not None:
        candidates.insert(0, lo)
    if xlo is not None and not isinstance(xlo, bool):
        candidates.insert(0, xlo + (1 if integer else 0.5))
    if hi is not None:
        candidates.append(hi)
    if xhi is not None and not isinstance(xhi, bool):
        candidates.append(xhi - (1 if integer else 0.5))
    for c in candidates:
        value = c
        if step:
            value = step * max(1, round(c / step)) if c > 0 else step * round(c / step)
        if integer:
            value = int(value) if float(value).is_integer() else int(value) + 1
        if check({k: v for k, v in schema.items() if k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")} | {"type": "integer" if integer else "number"}, value) is None:
            return value
    raise Unsatisfiable("no number within the bounds")


def make_string(schema: dict) -> str:
    lo = schema.get("minLength") or 0
    hi = schema.get("maxLength")
    pattern = schema.get("pattern")
    fmt = schema.get("format")
    candidates: list[str] = []
    if pattern:
        for repeat in (1, 0, 3, 8, 20, 64):
            try:
                candidates.append(from_regex(pattern, repeat))
            except (re.error, Unsatisfiable, RecursionError, OverflowError):
                break
    if isinstance(fmt, str) and fmt in FORMATS:
        candidates.append(FORMATS[fmt])
    if "contentSchema" in schema:
        try:
            candidates.append(json.dumps(generate(schema["contentSchema"], MAX_DEPTH - 2)))
        except Unsatisfiable:
            pass
    candidates.append("toolyard")
    for c in list(candidates):
        if len(c) < lo:
            candidates.append(c + "x" * (lo - len(c)))
        if hi is not None and len(c) > hi:
            candidates.append(c[:hi])
    constraints = {k: v for k, v in schema.items() if k in ("minLength", "maxLength", "pattern", "format")}
    constraints["type"] = "string"
    for c in candidates:
        if check(constraints, c) is None:
            return c
    raise Unsatisfiable(f"no string for {constraints}")


# ---- strings from regular expressions ---------------------------------------------------------------

CATEGORY_CHARS = {
    sre_c.CATEGORY_DIGIT: "1",
    sre_c.CATEGORY_NOT_DIGIT: "a",
    sre_c.CATEGORY_WORD: "a",
    sre_c.CATEGORY_NOT_WORD: "-",
    sre_c.CATEGORY_SPACE: " ",
    sre_c.CATEGORY_NOT_SPACE: "a",
}


def from_regex(pattern: str, repeat: int) -> str:
    """A string that matches `pattern` (JSON Schema patterns match anywhere); unbounded repeats
    repeat `repeat` times within their bounds."""
    groups: dict[int, str] = {}
    text = emit(sre_parse.parse(pattern), repeat, groups)
    if not re.search(pattern, text):
        raise Unsatisfiable(f"made {text!r}, which does not match {pattern!r}")
    return text


def emit(parsed, repeat: int, groups: dict[int, str]) -> str:
    out = []
    for op, av in parsed:
        if op is sre_c.LITERAL:
            out.append(chr(av))
        elif op is sre_c.NOT_LITERAL:
            out.append("a" if av != ord("a") else "b")
        elif op is sre_c.ANY:
            out.append("a")
        elif op is sre_c.IN:
            out.append(one_of(av))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            n = max(lo, min(repeat, hi))
            out.append("".join(emit(sub, repeat, groups) for _ in range(n)))
        elif op is sre_c.SUBPATTERN:
            group, _add, _del, sub = av
            text = emit(sub, repeat, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op is sre_c.BRANCH:
            out.append(emit(av[1][0], repeat, groups))
        elif op is sre_c.GROUPREF:
            out.append(groups.get(av, ""))
        elif op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
            continue
        elif op is sre_c.CATEGORY:
            out.append(CATEGORY_CHARS.get(av, "a"))
        else:
            raise Unsatisfiable(f"regex construct {op} is not supported")
    return "".join(out)


def one_of(items) -> str:
    negate = False
    chars: list[str] = []
    ranges: list[tuple[int, int]] = []
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            chars.append(chr(av))
        elif op is sre_c.RANGE:
            ranges.append(av)
            chars.append(chr(av[0]))
        elif op is sre_c.CATEGORY:
            chars.append(CATEGORY_CHARS.get(av, "a"))
    if not negate:
        if not chars:
            raise Unsatisfiable("empty character class")
        # Prefer letters and digits (friendlier in URLs) when the class allows them.
        for c in chars:
            if c.isalnum():
                return c
        return chars[0]
    for c in "aA0x_-.":
        if c not in chars and not any(lo <= ord(c) <= hi for lo, hi in ranges):
            return c
    raise Unsatisfiable("negated class excludes every candidate")
