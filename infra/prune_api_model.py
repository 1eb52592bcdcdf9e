"""Cut a botocore API model down to the operations the function calls.

    python -m infra.prune_api_model PACKAGE/botocore/data/ssm GetParameters

Used by the package build (functions/api/Makefile). A botocore client builds a method
for every operation of its service's model when it is created: SSM's model has ~150
operations and ~1,360 shapes, and its client took ~28 ms of every cold start for the one
call the function makes (`GetParameters`, core/secrets.py); with the model cut to that
operation and the shapes it reaches, ~3 ms. The paginators, waiters and examples of the
service go too. A call to an operation left out fails at once with AttributeError, and
tests/build/test_artifact.py runs the built package's calls against the local AWS.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any


def reachable_shapes(model: dict[str, Any], operations: dict[str, Any]) -> set[str]:
    shapes = model["shapes"]
    found: set[str] = set()
    pending = [
        ref["shape"]
        for operation in operations.values()
        for ref in [operation.get("input"), operation.get("output"), *operation.get("errors", [])]
        if ref is not None
    ]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        shape = shapes[name]
        pending.extend(shape[key]["shape"] for key in ("member", "key", "value") if key in shape)
        pending.extend(member["shape"] for member in shape.get("members", {}).values())
    return found


def prune(service_dir: Path, keep: set[str]) -> None:
    for version in service_dir.iterdir():
        model_path = version / "service-2.json.gz"
        if not model_path.is_file():  # an older API version without a model: unused
            continue
        model = json.loads(gzip.decompress(model_path.read_bytes()))
        missing = keep - set(model["operations"])
        if missing:
            raise SystemExit(f"{model_path}: no operation {sorted(missing)}")
        operations = {name: op for name, op in model["operations"].items() if name in keep}
        shapes = reachable_shapes(model, operations)
        model["operations"] = operations
        model["shapes"] = {name: s for name, s in model["shapes"].items() if name in shapes}
        model_path.write_bytes(gzip.compress(json.dumps(model).encode("utf-8"), mtime=0))
        for extra in ("paginators-1.json", "waiters-2.json", "examples-1.json"):
            (version / extra).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("service_dir", type=Path, help="botocore/data/<service>")
    parser.add_argument("operations", nargs="+", help="operations to keep")
    args = parser.parse_args(argv)
    prune(args.service_dir, set(args.operations))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
