#!/usr/bin/env bash
# Make sure .venv exists, runs, has the Python that PYTHON names (when PYTHON was given) and has
# the requirements installed; called by every Makefile target before it runs anything.
#
#   scripts/setup-venv.sh PYTHON GIVEN REQUIREMENTS...
#     PYTHON        the interpreter to build .venv with (python3, python3.12, a path)
#     GIVEN         "yes" when the user named PYTHON (make ... PYTHON=...): a .venv of another
#                   Python version is then rebuilt; "no" keeps whatever .venv has
#     REQUIREMENTS  requirement files, installed in order (requirements.txt, requirements-dev.txt)
#
# A stamp per requirements file holds a hash of that file, requirements.txt and the Python
# version, so pip runs only when one of them changed. Without a working PYTHON, pyenv's versions
# are tried before giving up with a message that says what to do.
set -euo pipefail

python_cmd="$1"
given="$2"
shift 2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="$venv/bin/python"
pip_flags=(--disable-pip-version-check --no-input)
cd "$root"

wanted="$python_cmd"
if ! "$python_cmd" -c 'import sys' >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then
  for version in $(pyenv versions --bare 2>/dev/null); do
    candidate="$(pyenv root)/versions/$version/bin/$wanted"
    if [ -x "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      python_cmd="$candidate"
      break
    fi
  done
fi
if ! "$python_cmd" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
  echo "Folio needs Python 3.11 or newer: '$wanted' is missing or too old." >&2
  echo "Name another interpreter: make <target> PYTHON=python3.12" >&2
  exit 1
fi

want="$("$python_cmd" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
have="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [ -n "$have" ] && [ "$have" != "$want" ] && [ "$given" = "yes" ]; then
  echo "==> .venv has Python $have but PYTHON=$wanted is $want: rebuilding .venv"
  have=""
fi
if [ -z "$have" ]; then
  echo "==> Creating .venv with $python_cmd (Python $want)"
  rm -rf "$venv"
  "$python_cmd" -m venv "$venv"
fi

for requirements in "$@"; do
  stamp="$venv/.folio-$requirements.stamp"
  digest="$("$py" -c 'import hashlib, sys; h = hashlib.sha256(sys.version.encode()); [h.update(open(p, "rb").read()) for p in sys.argv[1:]]; print(h.hexdigest())' requirements.txt "$requirements")"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "==> Installing $requirements into .venv"
    "$py" -m pip install "${pip_flags[@]}" -r "$requirements" \
      | { grep -v '^Requirement already satisfied' || true; }
    echo "$digest" > "$stamp"
  fi
done
