#!/bin/sh
# without-cmocka.sh - runs a command as on a machine where cmocka is not installed.
#
#   sh .ci/without-cmocka.sh CMD [ARGS...]
#
# CMD runs in a private mount namespace (`unshare --mount`: root, or else an
# unprivileged user namespace where the kernel allows one) in which every
# cmocka file under /usr and /usr/local (headers, libraries, .pc file, CMake
# package) is gone: an overlay with whiteouts over the folders that hold them,
# or, where overlay mounts are refused, empty files and folders bound over them
# (the header then only #errors). The rest of the machine, and every other
# process, still sees cmocka. Before CMD runs, this checks that cmocka really
# cannot be found: not by `pkg-config --exists cmocka`, not by CMake's
# find_package(cmocka CONFIG) or pkg_check_modules(cmocka), and
# `#include <cmocka.h>` does not preprocess.
#
# Exit status: CMD's; 77 when no mount namespace can be made here (callers
# skip, saying why); 70 when cmocka is still found despite the masks.
set -eu

if [ $# -eq 0 ]; then
    echo "usage: sh $0 CMD [ARGS...]" >&2
    exit 2
fi

# ---- outside: make the namespace, run this script again inside it ----
if [ -z "${QP__HIDE_DIR:-}" ]; then
    if ! command -v unshare >/dev/null 2>&1; then
        echo "without-cmocka: no mount namespace here (no unshare; it is in util-linux)" >&2
        exit 77
    fi
    ns=--mount
    [ "$(id -u)" -eq 0 ] || ns="--user --map-root-user --mount"
    # shellcheck disable=SC2086 # ns is a list of options
    if ! unshare $ns --propagation private true 2>/dev/null; then
        echo "without-cmocka: no mount namespace here (unshare $ns is not permitted)" >&2
        exit 77
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/without-cmocka.XXXXXX")
    status=0
    # shellcheck disable=SC2086
    QP__HIDE_DIR=$dir unshare $ns --propagation private sh "$0" "$@" || status=$?
    rm -rf "$dir"
    exit $status
fi

# ---- inside the namespace ----
dir=$QP__HIDE_DIR
unset QP__HIDE_DIR
# scratch space in memory: nothing is written to the disk, and overlay accepts
# it as an upper layer wherever / itself is an overlay (containers)
mount -t tmpfs qp-without-cmocka "$dir"

# What a cmocka package installs, wherever the prefix and the multiarch folder.
found=$(for top in /usr/include /usr/local/include /usr/lib /usr/lib32 /usr/lib64 /usr/local/lib \
    /usr/local/lib64 /usr/share /usr/local/share; do
    [ -d "$top" ] || continue
    find "$top" -maxdepth 3 \( -name 'cmocka*' -o -name 'libcmock*' -o -name cmockery \) \
        -prune -print 2>/dev/null || true
done | grep -v '^/usr/\(local/\)\{0,1\}share/doc/' | sort -u)

# The fewest folders to mount over: the parents of what is hidden, less those
# inside another one (an overlay cannot stack on an overlay here).
roots=$(printf '%s\n' "$found" | sed -n 's|/[^/]*$||p' | sort -u |
    awk '{ for (i = 1; i <= n; i++) if (index($0, r[i] "/") == 1) next; r[++n] = $0; print }')

mkdir "$dir/empty.d"
: >"$dir/empty"
echo '#error "cmocka is hidden here (.ci/without-cmocka.sh)"' >"$dir/hidden.h"
bind_over() { # $1: a path to hide, when overlay is refused
    if [ -d "$1" ]; then
        mount --bind "$dir/empty.d" "$1"
    else
        case $1 in
        *.h) mount --bind "$dir/hidden.h" "$1" ;;
        *) mount --bind "$dir/empty" "$1" ;;
        esac
    fi
}

n=0
how=
for root in $roots; do
    n=$((n + 1))
    up=$dir/$n/up
    mkdir -p "$up" "$dir/$n/work"
    mine=$(printf '%s\n' "$found" | while IFS= read -r p; do
        case $p in "$root"/*) echo "$p" ;; esac
    done)
    ok=yes
    for p in $mine; do
        rel=${p#"$root"/}
        mkdir -p "$up/$(dirname "$rel")"
        mknod "$up/$rel" c 0 0 2>/dev/null || ok=no # a whiteout
    done
    if [ $ok = yes ] && mount -t overlay qp-without-cmocka \
        -o "lowerdir=$root,upperdir=$up,workdir=$dir/$n/work" "$root" 2>/dev/null; then
        how="$how overlay:$root"
    else
        for p in $mine; do bind_over "$p"; done
        how="$how bind:$root"
    fi
done
echo "without-cmocka: hid $(printf '%s\n' "$found" | grep -c . || true) paths (${how# })" >&2

# ---- cmocka must be gone for every way a build looks for it ----
gone() { # $1: what still finds cmocka
    echo "without-cmocka: cmocka is still found: $1" >&2
    exit 70
}
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists cmocka; then
    gone "pkg-config --exists cmocka"
fi
for cc in cc gcc clang; do
    if command -v $cc >/dev/null 2>&1; then
        if printf '#include <cmocka.h>\n' | $cc -E -x c - >/dev/null 2>&1; then
            gone "#include <cmocka.h> ($cc)"
        fi
        break
    fi
done
if command -v cmake >/dev/null 2>&1; then
    mkdir "$dir/probe"
    cat >"$dir/probe/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(probe NONE)
find_package(cmocka CONFIG QUIET)
if(cmocka_FOUND)
  message(FATAL_ERROR "find_package(cmocka CONFIG): ${cmocka_DIR}")
endif()
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(CMOCKA QUIET cmocka)
  if(CMOCKA_FOUND)
    message(FATAL_ERROR "pkg_check_modules(cmocka): ${CMOCKA_LIBRARIES}")
  endif()
endif()
EOF
    if ! cmake -S "$dir/probe" -B "$dir/probe/build" >"$dir/probe.log" 2>&1; then
        cat "$dir/probe.log" >&2
        gone "by CMake (above)"
    fi
fi

exec "$@"
