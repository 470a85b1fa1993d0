#!/usr/bin/env bash
# Builds the loader Lambda's zip (dist/warehouse-loader.zip) for the python3.12 x86_64 runtime
# (Amazon Linux 2023, whose glibc 2.34 pyarrow's manylinux_2_28 wheels need): warehouse_loader,
# contracts, and the manylinux wheels of psycopg (binary) and pyarrow at the versions
# constraints.txt pins. The operator commands (warehouse_tools: click, rich and pycountry) are
# not in the zip; boto3 is left out: the Lambda runtime provides it.
#
# Usage: tools/package-lambda.sh <python> [output.zip] [build-dir]
# LAMBDA_PYTHON_VERSION (default 3.12, the runtime terraform/lambda.tf deploys) picks the wheels;
# the tests build for their own interpreter to run the package.
set -euo pipefail

python="$(cd "$(dirname "${1:?python with pip}")" && pwd)/$(basename "$1")"
root=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$root/dist/warehouse-loader.zip}
build=${3:-$root/build/lambda}
# Relative paths are the caller's (make package passes dist/warehouse-loader.zip): made absolute
# here, before the zip is written from inside the build folder.
out="$(mkdir -p "$(dirname "$out")" && cd "$(dirname "$out")" && pwd)/$(basename "$out")"
mkdir -p "$build" && build="$(cd "$build" && pwd)"
version=${LAMBDA_PYTHON_VERSION:-3.12}

rm -rf "$build"
mkdir -p "$build" "$(dirname "$out")"
"$python" -m pip install --quiet --disable-pip-version-check --target "$build" \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  --implementation cp --python-version "$version" --only-binary=:all: \
  -c "$root/constraints.txt" "psycopg[binary]" pyarrow
cp -r "$root/warehouse_loader" "$root/contracts" "$build/"
find "$build" -name __pycache__ -type d -prune -exec rm -rf {} +
# C++ headers, Cython sources and pyarrow's own tests: not needed to run, ~15 MB.
rm -rf "$build/pyarrow/include" "$build/pyarrow/src" "$build/pyarrow/tests"
find "$build/pyarrow" \( -name '*.pxd' -o -name '*.pyx' -o -name '*.pxi' \) -delete
rm -f "$out"
(cd "$build" && "$python" -m zipfile -c "$out" ./*)
echo "$out: $(du -h "$out" | cut -f1) zipped, $(du -sh "$build" | cut -f1) unpacked (Lambda's limit: 250 MB unpacked)"
