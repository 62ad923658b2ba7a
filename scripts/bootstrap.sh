#!/usr/bin/env bash
# Install what the controller needs before Ansible can run: the few Debian
# packages that a fresh Debian 12 or Ubuntu LTS machine lacks, then the Python
# environment in .venv with every pinned dependency. Safe to run again: it
# installs only what is missing.
set -euo pipefail

project_dir=$(cd "$(dirname "$0")/.." && pwd)
venv_dir="${VENV:-$project_dir/.venv}"
python_bin="${PYTHON:-python3}"

if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: run as root (the lab installs packages and starts daemons)" >&2
    exit 1
fi

apt_packages=()
command -v "$python_bin" >/dev/null 2>&1 || apt_packages+=(python3)
command -v git >/dev/null 2>&1 || apt_packages+=(git)
command -v make >/dev/null 2>&1 || apt_packages+=(make)
if command -v "$python_bin" >/dev/null 2>&1 \
    && ! "$python_bin" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt_packages+=(python3-venv)
fi
if ((${#apt_packages[@]})); then
    echo "bootstrap: installing ${apt_packages[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_packages[@]}"
fi

if ! "$python_bin" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))'; then
    echo "bootstrap: $python_bin is $("$python_bin" -V 2>&1); ansible-core 2.19 needs Python 3.11 to 3.13" >&2
    exit 1
fi

stamp="$venv_dir/.installed"
if [[ ! -x "$venv_dir/bin/python" ]]; then
    "$python_bin" -m venv "$venv_dir"
fi
# Reinstall only when the dependency list changed since the last install.
if [[ ! -f "$stamp" || "$project_dir/pyproject.toml" -nt "$stamp" ]]; then
    "$venv_dir/bin/pip" install -q --upgrade pip
    "$venv_dir/bin/pip" install -q -e "$project_dir[dev]"
    # The TUI and the tests import the project's collection as a package.
    site_packages=$("$venv_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$project_dir/collections" > "$site_packages/qa_platform_collections.pth"
    touch "$stamp"
fi
echo "bootstrap: Python environment ready in $venv_dir"
