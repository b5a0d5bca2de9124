#!/usr/bin/env bash
# pyenv.sh prints the path of a Python interpreter that has the foreign
# Hudi readers the interop tests use (hudi-rs's `hudi` package, pyarrow),
# creating the virtual environment on first use.
#
#   scripts/pyenv.sh            # prints e.g. ~/.cache/hoodie/pyenv-hudi-0.5.0/bin/python
#
# HOODIE_PYENV overrides the environment's directory.
set -euo pipefail
HUDI_VERSION=0.5.0
dir=${HOODIE_PYENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hoodie/pyenv-hudi-$HUDI_VERSION}
py="$dir/bin/python"
if [ -x "$py" ] && "$py" -c "import hudi, pyarrow" >/dev/null 2>&1; then
	echo "$py"
	exit 0
fi
python3 -m venv "$dir" >&2
"$dir/bin/pip" install --quiet --disable-pip-version-check "hudi==$HUDI_VERSION" pyarrow >&2
"$py" -c "import hudi, pyarrow" >&2
echo "$py"
