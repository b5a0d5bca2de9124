#!/usr/bin/env bash
# pyenv.sh prints the path of a Python interpreter that has the foreign
# Hudi readers the interop tests use (hudi-rs's `hudi` package, pyarrow,
# and pyspark for the Spark interop tests and the race: scripts/spark.sh adds
# the Hudi bundle jar), creating the virtual environment on first use.
#
#   scripts/pyenv.sh            # prints e.g. ~/.cache/hoodie/pyenv-hudi-0.5.0/bin/python
#
# HOODIE_PYENV overrides the environment's directory.
set -euo pipefail
HUDI_VERSION=0.5.0
PYSPARK_VERSION=3.5.1
dir=${HOODIE_PYENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hoodie/pyenv-hudi-$HUDI_VERSION}
py="$dir/bin/python"
if [ -x "$py" ] && "$py" -c "import hudi, pyarrow, pyspark; assert pyspark.__version__ == '$PYSPARK_VERSION'" >/dev/null 2>&1; then
	echo "$py"
	exit 0
fi
python3 -m venv "$dir" >&2
"$dir/bin/pip" install --quiet --disable-pip-version-check "hudi==$HUDI_VERSION" pyarrow "pyspark==$PYSPARK_VERSION" >&2
"$py" -c "import hudi, pyarrow, pyspark" >&2
echo "$py"
