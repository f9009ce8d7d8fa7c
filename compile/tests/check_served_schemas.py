#!/usr/bin/env python3
"""Checks that every tool schema of a compiled gateway config, served as the gateway serves it
(the schema plus a `$defs` of exactly the shared definitions it reaches), is valid JSON Schema
2020-12 for a strict validator: the meta-schema accepts it and every `$ref` resolves.

Usage: check_served_schemas.py <config.json>... (written by `config_size.rs` with
`TOOLYARD_CONFIG_SIZE_WRITE`). Needs the `jsonschema` package. The gateway's size budget (stand-ins
past 96/24 KB) is not applied here: the full closure is checked, which is the harder case.
"""

import json
import sys

import jsonschema

SINGLES = ("items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "not", "if",
           "then", "else", "contains", "propertyNames", "contentSchema")
MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs")
ARRAYS = ("allOf", "anyOf", "oneOf", "prefixItems")


def refs(schema, out):
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        out.append(ref[len("#/$defs/"):])
    for key, value in schema.items():
        if key in MAPS and isinstance(value, dict):
            for item in value.values():
                refs(item, out)
        elif key in ARRAYS and isinstance(value, list):
            for item in value:
                refs(item, out)
        elif key in SINGLES:
            refs(value, out)


def served(schema, defs):
    names, queue = set(), []
    refs(schema, queue)
    while queue:
        name = queue.pop()
        if name in names or name not in defs:
            continue
        names.add(name)
        refs(defs[name], queue)
    if not names:
        return schema
    return {**schema, "$defs": {name: defs[name] for name in sorted(names)}}


def main():
    problems = 0
    for path in sys.argv[1:]:
        config = json.load(open(path))
        checked = 0
        for target in config["targets"]:
            defs = target.get("schemaDefs", {})
            for tool in target["tools"]:
                for kind in ("inputSchema", "outputSchema"):
                    schema = tool.get(kind)
                    if schema is None:
                        continue
                    schema = served(schema, defs)
                    try:
                        jsonschema.Draft202012Validator.check_schema(schema)
                        jsonschema.Draft202012Validator(schema).is_valid({})
                        unresolved = []
                        refs(schema, unresolved)
                        missing = [n for n in unresolved if n not in schema.get("$defs", {})]
                        if missing:
                            raise ValueError(f"dangling $defs {missing[:3]}")
                    except Exception as error:  # noqa: BLE001 - report every kind of failure
                        problems += 1
                        if problems <= 10:
                            print(f"{path}: {tool['name']} {kind}: {str(error)[:300]}")
                    checked += 1
        print(f"{path}: {checked} served schemas checked")
    print(f"{problems} invalid")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
