#!/usr/bin/env bash
# The project's single test command:
#   scripts/test.sh [extra args for cargo nextest run / cargo test]
# Provisions PostgreSQL (+pgvector), Redis and the MiniLM model, then runs the
# whole workspace's tests (nextest if available, else cargo test) and doctests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

provision_out="$(scripts/provision.sh)"
eval "$provision_out"

# Run inside a fresh session keyring so the Secret Manager's keychain backend really works
# (on a headless Linux the keyutils backend needs one).
session=()
if command -v keyctl >/dev/null 2>&1; then session=(keyctl session -); fi

rc=0
if cargo nextest --version >/dev/null 2>&1; then
    echo "test.sh: cargo nextest run --workspace --no-fail-fast $*" >&2
    "${session[@]}" cargo nextest run --workspace --no-fail-fast "$@" || rc=$?
    # nextest does not run doctests.
    echo "test.sh: cargo test --workspace --doc" >&2
    cargo test --workspace --doc || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }
else
    echo "test.sh: cargo-nextest not found; cargo test --workspace $*" >&2
    "${session[@]}" cargo test --workspace "$@" || rc=$?
fi
exit "$rc"
