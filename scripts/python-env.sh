#!/usr/bin/env bash
# Creates .cache/venv with the pinned Python packages the tests compare against (llama.cpp's `gguf`
# reader and its reference dequantizers). Idempotent; prints the interpreter path on success.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/venv
REQS=scripts/python-requirements.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  command -v python3 >/dev/null || { echo "python-env: python3 is not installed (apt-get install -y python3 python3-venv)" >&2; exit 1; }
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" >&2
  echo "$want" > "$STAMP"
fi
echo "$PWD/$VENV/bin/python"
