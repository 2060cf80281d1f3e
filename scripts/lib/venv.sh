# Shared by scripts/demo and scripts/test: the project's virtualenv in .venv.
# shellcheck shell=bash

PYTHON="${PYTHON:-python3}"

say() { printf '%s\n' "$*" >&2; }

# Create .venv with Python >= 3.11 (on Debian, installing python3-venv when root and missing).
ensure_venv() {
    [[ -x .venv/bin/python ]] && return 0
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        say "Liaison needs Python 3.11 or later as '$PYTHON' (set PYTHON=/path/to/python3.11)."
        return 1
    fi
    say "Creating .venv with $("$PYTHON" --version)…"
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
            say "Installing python3-venv…"
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$PYTHON" -m venv .venv
        else
            say "'$PYTHON -m venv' failed: install the python3-venv package."
            return 1
        fi
    fi
}

# pip install -e '.[EXTRA]' into .venv, unless done since pyproject.toml last changed.
ensure_installed() {
    local extra="${1:-}" stamp=.venv/.liaison-installed spec=.
    if [[ -f "$stamp" && "$stamp" -nt pyproject.toml ]] \
        && { [[ -z "$extra" ]] || grep -qx -- "$extra" "$stamp"; } \
        && .venv/bin/python -c 'import liaison' 2>/dev/null; then
        return 0
    fi
    if [[ -n "$extra" ]]; then spec=".[$extra]"; fi
    say "Installing Liaison into .venv (pip install -e '$spec')…"
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/liaison-pip.XXXXXX")
    if ! .venv/bin/python -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        say "pip install failed (full log: $log)"
        return 1
    fi
    rm -f -- "$log"
    # The stamp lists the extras installed since pyproject.toml last changed.
    if [[ -f "$stamp" && "$stamp" -nt pyproject.toml ]]; then
        printf '%s\n' "$extra" >>"$stamp"
    else
        printf '%s\n' "$extra" >"$stamp"
    fi
}
