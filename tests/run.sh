#!/bin/sh
# run.sh - the one command that runs every qprep test (README "Tests").
#
#   sh tests/run.sh [BUILD_DIR [CMAKE_ARGS...]]
#
# On a fresh Debian 12 machine it first installs what the build and the tests
# need when missing (cmake, make, gcc, g++, pkg-config, libcmocka-dev; with
# apt-get, through sudo unless root; waiting for apt's lock when another apt-get or
# dpkg holds it). Then it configures BUILD_DIR (default:
# build/ in the checkout) with tests and examples on, plus CMAKE_ARGS (e.g.
# -DQP_SANITIZE=address,undefined), builds, and runs `ctest --output-on-failure`.
# Re-running only rebuilds what changed. Exit status: 0 when every test passed.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
if [ $# -gt 0 ]; then shift; fi

# ---- what is missing ----
missing=
have() { command -v "$1" >/dev/null 2>&1; }
have cmake || missing="$missing cmake"
have make || have ninja || missing="$missing make"
have gcc || have cc || missing="$missing gcc"
have g++ || have c++ || missing="$missing g++"
have pkg-config || have pkgconf || missing="$missing pkg-config"
cmocka=no
if have dpkg-query; then
    dpkg-query -W -f='${Status}\n' libcmocka-dev 2>/dev/null | grep -q ' installed$' && cmocka=yes
fi
if [ $cmocka = no ]; then
    for dir in /usr/include /usr/local/include; do
        [ -f "$dir/cmocka.h" ] && cmocka=yes
    done
fi
[ $cmocka = yes ] || missing="$missing libcmocka-dev"

if [ -n "$missing" ]; then
    echo "run.sh: installing:$missing"
    if ! have apt-get; then
        echo "run.sh: no apt-get here; install these yourself:$missing" >&2
        exit 1
    fi
    sudo=
    if [ "$(id -u)" -ne 0 ]; then
        have sudo || { echo "run.sh: not root and no sudo; install:$missing" >&2; exit 1; }
        sudo=sudo
    fi
    # apt-get that waits up to 10 minutes for a lock another apt-get or dpkg holds,
    # instead of failing at once with 100: DPkg::Lock::Timeout covers dpkg's locks
    # (install); apt 2.6 does not apply it to the lists lock of `update`, so that
    # one is retried while apt says it could not get a lock.
    apt_get() {
        deadline=$(($(date +%s) + 600))
        while :; do
            status=0
            { err=$($sudo env DEBIAN_FRONTEND=noninteractive \
                apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1 >&3 3>&-) || status=$?; } 3>&1
            [ -z "$err" ] || printf '%s\n' "$err" >&2
            [ $status -ne 0 ] || return 0
            case $err in *"Could not get lock"*) ;; *) return $status ;; esac
            [ "$(date +%s)" -lt $deadline ] || return $status
            echo "run.sh: apt is busy (another apt-get or dpkg holds its lock); waiting" >&2
            sleep 10
        done
    }
    apt_get update -q
    # shellcheck disable=SC2086 # the package list is meant to split
    apt_get install -y -q --no-install-recommends $missing
fi

# ---- configure, build, test ----
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
cmake -S "$root" -B "$build" -DBUILD_TESTING=ON -DQP_BUILD_TESTS=ON -DQP_BUILD_EXAMPLES=ON "$@"
cmake --build "$build" --parallel "$jobs"
cd "$build"
ctest --output-on-failure --parallel "$jobs"
