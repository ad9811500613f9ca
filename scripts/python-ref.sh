#!/usr/bin/env bash
# The reference ftrack client for the server's acceptance tests: a virtualenv with the real,
# unmodified ftrack-python-api (and clique, which it uses for sequences). Made once, in
# target/python-ref (or $1), and reused; prints the virtualenv's python.
#
#   ./scripts/python-ref.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${CARGO_TARGET_DIR:-target}/python-ref}
python=$dir/bin/python
if ! "$python" -c 'import ftrack_api, clique' >/dev/null 2>&1; then
    echo "making the reference client's virtualenv in $dir" >&2
    python3 -m venv "$dir"
    "$python" -m pip install --quiet --disable-pip-version-check \
        ftrack-python-api==3.1.0 clique==1.6.1 >&2
fi
echo "$(cd "$dir" && pwd)/bin/python"
