#!/usr/bin/env bash
# The one test command, for a fresh machine or CI:  bash scripts/test.sh [pytest args]
# Hunting flaky tests:  bash scripts/test.sh --repeat N [pytest args]  runs the suite N times
# (each run starts its own servers) and prints how often each test failed.
#
# 1. makes sure Java 17 and Maven are installed, and Go (which builds nats-server 2.15 once)
#    or else Debian's nats-server (installs with apt-get when run as root; otherwise says the
#    exact command to run);
# 2. creates .venv with Python 3.11 or 3.12 if it is missing and installs rdg with its
#    test and bench extras;
# 3. runs pytest over tests/ and the doctests in rdg/. The session fixtures start real
#    NATS, Kafka and JanusGraph servers once each on free ports (jars fetched once into
#    ~/.cache/rdg) and stop them at the end; their logs stay under .rdg/pytest/.
#
# Exits non-zero if any test fails, and also if no test ran at all.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

apt_install() {  # apt_install <what it is for> <package>...
    local why=$1; shift
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing $* ($why)"
        if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        die "$why is missing: run 'sudo apt-get install -y $*' and then this script again"
    fi
}

# --- system tools ---------------------------------------------------------------------
have_go() { command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || [ -x /usr/lib/go/bin/go ]; }
if ! have_go && ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    # Debian's Go is too old to build nats-server 2.15; its nats-server (2.9) runs everything
    apt_install "nats-server (NATS with JetStream; install Go 1.24+ to get 2.15 instead)" nats-server
fi
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
    apt_install "Java 17 (Kafka and JanusGraph run on it)" openjdk-17-jre-headless
fi
if ! command -v mvn >/dev/null; then
    apt_install "Maven (fetches the Kafka and JanusGraph jars once)" maven
fi

# --- Python environment ---------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    PY=""
    for candidate in ${RDG_PYTHON:-} python3.11 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))' 2>/dev/null; then
            PY=$candidate; break
        fi
    done
    [ -n "$PY" ] || die "Python 3.11 or 3.12 is needed (Bytewax has no wheels for 3.13): install python3.11 and retry, or set RDG_PYTHON"
    say "creating .venv with $($PY --version)"
    "$PY" -m venv .venv
fi
say "installing rdg and its test dependencies into .venv"
mkdir -p .rdg
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,bench]' > .rdg/pip.log 2>&1; then
    tail -30 .rdg/pip.log >&2
    die "pip could not install rdg (full log: .rdg/pip.log)"
fi

# --- servers: build nats-server and fetch the jars once, with progress, before pytest ---
say "preparing the servers (first time: Go builds nats-server, Maven fetches jars)"
.venv/bin/rdg stack fetch >&2 || die "could not prepare the servers (see above)"

# --- tests ----------------------------------------------------------------------------
if [ "${1:-}" = "--repeat" ]; then
    runs=${2:?"--repeat needs a count, e.g. --repeat 5"}
    shift 2
    dir=.rdg/repeat
    rm -rf "$dir"; mkdir -p "$dir"
    worst=0
    for i in $(seq "$runs"); do
        say "run $i of $runs"
        set +e
        .venv/bin/python -m pytest tests rdg -q --basetemp=.rdg/pytest \
            --junitxml="$dir/run-$i.xml" "$@" > "$dir/run-$i.log" 2>&1
        rc=$?
        set -e
        say "run $i: $(tail -1 "$dir/run-$i.log")"
        [ "$rc" -gt "$worst" ] && worst=$rc
    done
    .venv/bin/python scripts/flaky_report.py "$dir"/run-*.xml
    exit "$worst"
fi
say "running pytest (real servers start on free ports; logs under .rdg/pytest/)"
started=$(date +%s)
set +e
.venv/bin/python -m pytest tests rdg -q -ra --durations=10 --basetemp=.rdg/pytest "$@"
rc=$?
set -e
say "pytest finished with exit code $rc in $(( $(date +%s) - started ))s"

# Show that the servers were real: the line each one logs when it is ready.
for log in .rdg/pytest/stack-*[0-9]/*/server.log; do
    [ -f "$log" ] || continue
    line=$(grep -h -m1 -E 'Server is ready|Kafka Server started|Channel started at port' "$log" || true)
    say "$log: ${line:-(no ready line)}"
done

if [ "$rc" = 5 ]; then
    printf 'error: no tests ran\n' >&2
    exit 1
fi
exit "$rc"
