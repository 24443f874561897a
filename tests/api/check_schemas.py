#!/usr/bin/env python3
"""check_schemas.py SPEC SAMPLES_DIR - real tallyd responses against docs/openapi.yaml.

run_api.sh saves response bodies as SAMPLES_DIR/<Schema>.<n>.json, where <Schema> names a
schema under components/schemas of SPEC. Each sample is validated against its schema with the
subset of JSON Schema the spec uses ($ref, type, enum, required, properties,
additionalProperties, items, min/maxItems, min/maxLength, pattern, minimum, maximum, oneOf,
anyOf, allOf). Prints "ok <file>" or "FAIL <file>: <path>: <reason>" per sample; exits non-zero
when any sample fails. Reads the spec with python3-yaml, or else through Redocly CLI's bundle.
"""
import json
import os
import re
import sys

import subprocess
import tempfile

try:
    import yaml
except ImportError:
    yaml = None


class Invalid(Exception):
    pass


def resolve(spec, ref):
    if not ref.startswith("#/"):
        raise Invalid("external $ref not supported: " + ref)
    node = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def type_ok(value, name):
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise Invalid("unknown type " + name)


def validate(spec, schema, value, path):
    if "$ref" in schema:
        validate(spec, resolve(spec, schema["$ref"]), value, path)
    for sub in schema.get("allOf", []):
        validate(spec, sub, value, path)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            matches = 0
            errors = []
            for sub in schema[key]:
                try:
                    validate(spec, sub, value, path)
                    matches += 1
                except Invalid as error:
                    errors.append(str(error))
            if matches == 0 or (key == "oneOf" and matches > 1):
                raise Invalid("%s: %s matched %d of %d (%s)" % (path, key, matches,
                                                                len(schema[key]), "; ".join(errors)))
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, t) for t in types):
            raise Invalid("%s: expected %s, got %s" % (path, "/".join(types), json.dumps(value)))
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid("%s: %s not in %s" % (path, json.dumps(value), schema["enum"]))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise Invalid("%s: shorter than %d" % (path, schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise Invalid("%s: longer than %d" % (path, schema["maxLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise Invalid("%s: %s does not match %s" % (path, json.dumps(value), schema["pattern"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise Invalid("%s: %s below %s" % (path, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            raise Invalid("%s: %s above %s" % (path, value, schema["maximum"]))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise Invalid("%s: fewer than %d items" % (path, schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise Invalid("%s: more than %d items" % (path, schema["maxItems"]))
        if "items" in schema:
            for index, item in enumerate(value):
                validate(spec, schema["items"], item, "%s[%d]" % (path, index))
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                raise Invalid("%s: missing required %s" % (path, name))
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                validate(spec, properties[name], item, path + "." + name)
            elif schema.get("additionalProperties") is False:
                raise Invalid("%s: field %s is not in the spec" % (path, name))
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(spec, schema["additionalProperties"], item, path + "." + name)


def load_spec(path):
    """The spec as a dict: python3-yaml when installed, else `redocly bundle` to JSON."""
    if yaml is not None:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    redocly = os.path.join(root, "build-tools", "node", "node_modules", ".bin", "redocly")
    if not os.access(redocly, os.X_OK):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "spec.json")
        subprocess.run([redocly, "bundle", path, "--ext", "json", "-o", out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if not os.path.exists(out):
            return None
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def main():
    if len(sys.argv) != 3:
        print("usage: check_schemas.py SPEC SAMPLES_DIR")
        return 2
    spec = load_spec(sys.argv[1])
    if spec is None:
        print("FAIL check_schemas.py: needs python3-yaml, or Redocly CLI in build-tools/node "
              "(tests/api/run_openapi.sh installs it), to read " + sys.argv[1])
        return 1
    schemas = spec["components"]["schemas"]
    failed = 0
    names = sorted(os.listdir(sys.argv[2]))
    for name in names:
        schema_name = name.split(".")[0]
        path = os.path.join(sys.argv[2], name)
        try:
            if schema_name not in schemas:
                raise Invalid("no schema %s in the spec" % schema_name)
            with open(path, encoding="utf-8") as f:
                value = json.load(f)
            validate(spec, schemas[schema_name], value, schema_name)
            print("ok " + name)
        except (Invalid, ValueError) as error:
            failed += 1
            print("FAIL %s: %s" % (name, error))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
