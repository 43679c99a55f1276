#!/usr/bin/env python3
"""oci-validate.py SCHEMA-DIR KIND FILE...: validate JSON documents against
the OCI image-spec schemas (draft-04), resolving $refs to the local files by
base name.  KIND: manifest, index, config, layout.  Prints one line per
invalid document and exits 1 when any is invalid."""
import json
import os
import sys

import jsonschema

SCHEMAS = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
}


def main():
    sdir, kind, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    store = {}
    for name in os.listdir(sdir):
        if name.endswith(".json"):
            with open(os.path.join(sdir, name)) as f:
                try:
                    doc = json.load(f)
                except ValueError:
                    continue
            store[name] = doc
            if isinstance(doc, dict) and "id" in doc:
                store[doc["id"]] = doc

    def handler(uri):
        return store[os.path.basename(uri.split("#")[0])]

    schema = store[SCHEMAS[kind]]
    resolver = jsonschema.RefResolver(
        base_uri=schema.get("id", ""), referrer=schema,
        handlers={"http": handler, "https": handler})
    validator = jsonschema.Draft4Validator(
        schema, resolver=resolver,
        format_checker=jsonschema.FormatChecker())
    bad = 0
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        errors = list(validator.iter_errors(doc))
        if errors:
            bad += 1
            print("%s: %s" % (path, errors[0].message))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")
    main()
