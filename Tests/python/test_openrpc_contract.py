"""schema/openrpc.json is a valid OpenRPC 1.3 document (checked against the meta-schema fixture)."""
import json

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from service_support import FIXTURES, ROOT

META_SCHEMA = FIXTURES / "vectors" / "openrpc" / "meta-schema.json"


def validator():
    meta = json.loads(META_SCHEMA.read_text())
    # The meta-schema refers to the JSON Schema meta-schema by URL (see SOURCE.md); offline, that reference is
    # stubbed with the one definition the OpenRPC schema points into.
    stub = {"definitions": {"JSONSchemaObject": {"properties": {"$ref": {"type": "string"}}}}}
    resource = Resource.from_contents(stub, default_specification=DRAFT7)
    registry = Registry().with_resources(
        [("https://meta.json-schema.tools", resource), ("https://meta.json-schema.tools/", resource)]
    )
    return Draft7Validator(meta, registry=registry)


def test_document_validates_against_the_meta_schema():
    document = json.loads((ROOT / "schema" / "openrpc.json").read_text())
    errors = [f"{e.json_path}: {e.message}" for e in validator().iter_errors(document)]
    assert errors == []
    assert document["openrpc"].startswith("1.3.")


def test_the_validator_is_not_vacuous():
    document = json.loads((ROOT / "schema" / "openrpc.json").read_text())
    broken = dict(document)
    del broken["info"]
    assert list(validator().iter_errors(broken))
    broken = dict(document, methods=[{"name": "x"}])  # a method without params
    assert list(validator().iter_errors(broken))


def test_method_names_are_unique_and_namespaced():
    document = json.loads((ROOT / "schema" / "openrpc.json").read_text())
    names = [method["name"] for method in document["methods"]]
    assert len(names) == len(set(names))
    for name in names:
        namespace, _, verb = name.partition(".")
        assert namespace and verb, name


def test_examples_match_their_method_schemas():
    document = json.loads((ROOT / "schema" / "openrpc.json").read_text())

    def errors(schema, value):
        validator = Draft7Validator(dict(schema, components=document["components"]))
        return [e.message for e in validator.iter_errors(value)]

    checked = 0
    for method in document["methods"]:
        params = {param["name"]: param["schema"] for param in method["params"]}
        for example in method.get("examples", []):
            result = example.get("result")
            if result is not None and "schema" in method.get("result", {}):
                found = errors(method["result"]["schema"], result["value"])
                assert found == [], f"{method['name']} example {example['name']!r}: {found}"
                checked += 1
            for param in example.get("params", []):
                if param["name"] in params:
                    found = errors(params[param["name"]], param["value"])
                    assert found == [], f"{method['name']} example {example['name']!r}, {param['name']}: {found}"
    assert checked > 0
