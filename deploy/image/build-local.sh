#!/usr/bin/env bash
# Build the repository's Dockerfile without a Docker engine and without Docker
# Hub, then run the image and check it. See deploy/image/README.md.
#
#   sudo deploy/image/build-local.sh [all|bases|build|verify|clean]   (default: all)
#
# bases   The two base images the Dockerfile names, made from Debian packages:
#         debootstrap (minbase, bookworm) stands in for debian:bookworm-slim;
#         that plus gcc/make/pkg-config and this host's Rust toolchain (rustup
#         layout, same ENV as the official image) stands in for rust:1-bookworm.
# build   buildah bud of the Dockerfile, the bases passed as build ARGs.
# verify  Runs the image: --version/-v/--help of the three binaries, then the
#         image's own CMD (qperf server) against this host's stock qperf client,
#         and the image's HTTP server against both wrks, all on loopback.
# clean   Removes everything below $WORK (storage, rootfs trees, logs).
#
# Knobs (environment): WORK (state dir), TAG, MIRROR, SECURITY_MIRROR,
# STORAGE_DRIVER (vfs: works without overlayfs), ISOLATION (chroot: works
# without user namespaces or a container runtime), TOOLCHAIN (a rustup
# toolchain directory; default: the host's default toolchain), HOST_CA_BUNDLE
# (CA file cargo trusts in the build stage; empty: Debian's), QPERF_PORT,
# HTTP_PORT. Needs root, buildah and debootstrap (installed with apt-get when
# missing), and network access to a Debian mirror and crates.io.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-/var/tmp/netbench-image}
TAG=${TAG:-localhost/netbench:local}
SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
ISOLATION=${ISOLATION:-chroot}
QPERF_PORT=${QPERF_PORT:-4000}
HTTP_PORT=${HTTP_PORT:-8080}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
[ -z "$HOST_CA_BUNDLE" ] || [ -r "$HOST_CA_BUNDLE" ] || HOST_CA_BUNDLE=
RUNTIME_BASE=localhost/netbench-base/debian:bookworm-slim
BUILD_BASE=localhost/netbench-base/rust:1-bookworm
# Own storage below $WORK: never mixes with (or needs) the host's containers.
B=(buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver "$STORAGE_DRIVER")

log() { printf '== %s\n' "$*" >&2; }
die() {
    printf 'build-local: %s\n' "$*" >&2
    exit 1
}

need_tools() {
    [ "$(id -u)" = 0 ] || die "run as root (debootstrap and buildah's chroot isolation need it)"
    local missing=()
    command -v buildah >/dev/null || missing+=(buildah)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        log "apt-get install ${missing[*]}"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
}

have_image() { "${B[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# A Debian rootfs made by debootstrap, cut down like the slim image: no apt
# lists or caches, the same three suites in sources.list.
runtime_rootfs() {
    local dir=$WORK/rootfs-$SUITE
    if [ ! -e "$dir/.complete" ]; then
        log "debootstrap --variant=minbase $SUITE ($MIRROR)"
        rm -rf "$dir"
        mkdir -p "$WORK/debs"
        debootstrap --variant=minbase --cache-dir="$WORK/debs" "$SUITE" "$dir" "$MIRROR" \
            >"$WORK/debootstrap.log" 2>&1 || die "debootstrap failed, see $WORK/debootstrap.log"
        cat >"$dir/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
        rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
        touch "$dir/.complete"
    fi
    printf '%s\n' "$dir"
}

# tar of a directory tree into a new image from scratch (buildah has no
# `import`; a mount keeps owners, modes and setuid bits, unlike `buildah copy`).
import_rootfs() {
    local dir=$1 name=$2 ctr mnt
    ctr=$("${B[@]}" from scratch)
    mnt=$("${B[@]}" mount "$ctr")
    tar -C "$dir" --exclude=./.complete --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
    "${B[@]}" umount "$ctr" >/dev/null
    "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd bash "$ctr"
    "${B[@]}" commit --quiet --rm "$ctr" "$name" >/dev/null
}

host_toolchain() {
    if [ -n "${TOOLCHAIN:-}" ]; then
        printf '%s\n' "$TOOLCHAIN"
        return
    fi
    local home=${RUSTUP_HOME:-$HOME/.rustup} name
    command -v rustup >/dev/null || die "no rustup on the host; set TOOLCHAIN=DIR (a toolchain with bin/cargo, bin/rustc)"
    name=$(rustup default | awk '{print $1}')
    realpath "$home/toolchains/$name"
}

build_base() {
    local tc ctr mnt name
    tc=$(host_toolchain)
    if [ ! -x "$tc/bin/cargo" ] || [ ! -x "$tc/bin/rustc" ]; then die "$tc has no bin/cargo or bin/rustc"; fi
    name=$(basename "$tc")
    log "build base: $RUNTIME_BASE + gcc make pkg-config + toolchain $name"
    ctr=$("${B[@]}" from --pull=never "$RUNTIME_BASE")
    "${B[@]}" run --isolation "$ISOLATION" "$ctr" -- sh -ec '
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            ca-certificates gcc libc6-dev make pkg-config
        rm -rf /var/lib/apt/lists/*' >"$WORK/build-base.log" 2>&1 ||
        die "apt-get in the build base failed, see $WORK/build-base.log"
    # The official rust image's layout: RUSTUP_HOME=/usr/local/rustup,
    # CARGO_HOME=/usr/local/cargo with rustup's proxies on the PATH. The
    # toolchain's docs (0.8 GB) are left out.
    mnt=$("${B[@]}" mount "$ctr")
    mkdir -p "$mnt/usr/local/rustup/toolchains/$name" "$mnt/usr/local/cargo/bin"
    tar -C "$tc" --exclude=./share/doc -cf - . | tar -C "$mnt/usr/local/rustup/toolchains/$name" -xpf -
    if command -v rustup >/dev/null; then
        # rustup and its proxies (cargo, rustc, ...: links to rustup), as the
        # official image has; nothing else from the host's cargo bin.
        local bin
        bin=$(dirname "$(realpath "$(command -v rustup)")")
        install -m 755 "$bin/rustup" "$mnt/usr/local/cargo/bin/rustup"
        find "$bin" -maxdepth 1 -type l -lname rustup -printf '%f\n' |
            while read -r t; do ln -sf rustup "$mnt/usr/local/cargo/bin/$t"; done
        printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\nauto_self_update = "disable"\n' \
            "$name" >"$mnt/usr/local/rustup/settings.toml"
    else
        for t in cargo rustc rustdoc; do ln -sf "/usr/local/rustup/toolchains/$name/bin/$t" "$mnt/usr/local/cargo/bin/$t"; done
    fi
    # cargo in the build trusts the host's CA bundle: where HTTPS goes through
    # an intercepting proxy (as on the machine this was written on) the Debian
    # bundle alone fails with "self-signed certificate in certificate chain".
    # Only the build stage sees it; the final image copies nothing but /out.
    local ca_env=()
    if [ -n "$HOST_CA_BUNDLE" ]; then
        install -D -m 644 "$HOST_CA_BUNDLE" "$mnt/usr/local/share/netbench-build/host-ca.crt"
        ca_env=(--env CARGO_HTTP_CAINFO=/usr/local/share/netbench-build/host-ca.crt)
    fi
    "${B[@]}" umount "$ctr" >/dev/null
    "${B[@]}" config "${ca_env[@]}" --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
        --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    "${B[@]}" run --isolation "$ISOLATION" "$ctr" -- sh -ec 'cargo --version; rustc --version; cc --version | head -1' >&2
    "${B[@]}" commit --quiet --rm "$ctr" "$BUILD_BASE" >/dev/null
}

bases() {
    need_tools
    mkdir -p "$WORK"
    if ! have_image "$RUNTIME_BASE"; then
        local dir
        dir=$(runtime_rootfs)
        log "import $dir as $RUNTIME_BASE"
        import_rootfs "$dir" "$RUNTIME_BASE"
    fi
    have_image "$BUILD_BASE" || build_base
    "${B[@]}" images >&2
}

build() {
    need_tools
    if ! have_image "$RUNTIME_BASE" || ! have_image "$BUILD_BASE"; then bases; fi
    log "buildah bud -t $TAG $REPO (release build of three binaries: minutes)"
    # nice: the release build takes both cores for several minutes.
    nice -n 10 "${B[@]}" bud --isolation "$ISOLATION" --pull=never --layers=false \
        --build-arg RUST_IMAGE="$BUILD_BASE" --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" \
        -f "$REPO/Dockerfile" -t "$TAG" "$REPO"
    "${B[@]}" images >&2
}

# Waits (bounded) until something listens on 127.0.0.1:$1 (tcp).
wait_listen() {
    local _
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ends a `buildah run` we started in the background, by its PID. With chroot
# isolation the command is at the end of a chain (buildah run ->
# buildah-chroot-runtime -> buildah-chroot-exec -> command): SIGTERM goes to
# the command itself so it stops cleanly and the chain exits with it; buildah
# is only signalled if that did not happen within 10 s.
stop_run() {
    local pid=$1 leaf=$1 kid
    while kid=$(pgrep -P "$leaf" | head -1) && [ -n "$kid" ]; do leaf=$kid; done
    kill -TERM "$leaf" 2>/dev/null || true
    if ! timeout 10 tail --pid="$pid" -f /dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

VERIFY_CTR=
rm_verify_ctr() { [ -z "$VERIFY_CTR" ] || "${B[@]}" rm "$VERIFY_CTR" >/dev/null 2>&1 || true; }

verify() {
    need_tools
    have_image "$TAG" || die "no image $TAG: run '$0 build' first"
    local ctr out cmd qpid hpid fails=0
    # netbench-host: the Service name the host target's client Jobs connect
    # to, here the image's own servers on loopback.
    ctr=$("${B[@]}" from --pull=never --add-host netbench-host:127.0.0.1 "$TAG")
    VERIFY_CTR=$ctr
    trap 'rm_verify_ctr' EXIT
    run() { "${B[@]}" run --isolation "$ISOLATION" "$ctr" -- "$@"; }
    check() { # NAME EXPECTED-SUBSTRING OUTPUT
        if grep -qF -- "$2" <<<"$3"; then
            printf 'ok    %s\n' "$1"
        else
            printf 'FAIL  %s: expected %q in:\n%s\n' "$1" "$2" "$3"
            fails=$((fails + 1))
        fi
    }

    # A client Job's container command exactly as `netbench k8s` renders it
    # (read from the --dry-run YAML, short settings), run in the image
    # against its own servers: the tool's text, the marker, the --json
    # document after it, and `netbench merge` reading that document back.
    pod_job() { # ROLE EXPECTED-IN-TEXT
        local role=$1 argv log
        if ! python3 -c 'import yaml' 2>/dev/null; then
            printf 'skip  %s Job command (no python3 PyYAML to read the manifests)\n' "$role"
            return
        fi
        run sh -c 'printf "%s\n" "namespace = \"netbench\"" "image = \"'"$TAG"'\"" \
            "server_node = \"a\"" "client_nodes = [\"b\"]" "runtime_classes = []" \
            "duration = \"1s\"" "threads = 1" "connections = 10" "qperf_time = \"1\"" \
            "msg_sizes = \"1:64:*64\"" >/tmp/k8s.toml && netbench k8s --dry-run /tmp/k8s.toml' \
            >"$WORK/dry-run.yaml" 2>&1 || true
        python3 - "$WORK/dry-run.yaml" "netbench-host-$role" >"$WORK/job-$role.argv" <<'PY' || true
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "Job" and doc["metadata"]["name"] == sys.argv[2]:
        c = doc["spec"]["template"]["spec"]["containers"][0]
        sys.stdout.write("".join(a + "\0" for a in c.get("command", []) + c.get("args", [])))
PY
        mapfile -d '' argv <"$WORK/job-$role.argv"
        if [ ${#argv[@]} = 0 ]; then
            printf 'FAIL  no Job netbench-host-%s in the dry-run YAML:\n' "$role"
            cat "$WORK/dry-run.yaml"
            fails=$((fails + 1))
            return
        fi
        printf '      %s Job command: %s\n' "$role" "${argv[*]}"
        log=$(timeout 60 "${B[@]}" run --isolation "$ISOLATION" "$ctr" -- "${argv[@]}" 2>&1 || true)
        printf '%s\n' "$log" >"$WORK/job-$role.log"
        check "$role Job command in the image: text" "$2" "$log"
        check "$role Job command in the image: document" "--- netbench: --json document follows ---" "$log"
        printf '%s\n' "$log" | sed '1,/^--- netbench: --json document follows ---$/d' >"$WORK/job-$role.json"
        out=$("${B[@]}" run --isolation "$ISOLATION" -v "$WORK/job-$role.json:/tmp/doc.json:ro" "$ctr" -- \
            netbench merge /tmp/doc.json 2>&1 || true)
        check "netbench merge reads the $role Job's document" "$2" "$out"
    }

    out=$(run sh -c 'for b in qperf wrk netbench; do command -v "$b"; done' 2>&1 || true)
    check "binaries on the PATH" "/usr/local/bin/qperf
/usr/local/bin/wrk
/usr/local/bin/netbench" "$out"
    out=$(run qperf --version 2>&1 || true)
    check "qperf --version" "qperf 0.4.11" "$out"
    out=$(run wrk -v 2>&1 || true)
    check "wrk -v" "wrk 4.1.0" "$out"
    out=$(run netbench --help 2>&1 || true)
    check "netbench --help" "netbench" "$out"
    # The manifests netbench k8s renders from inside the image (no cluster).
    out=$(run sh -c 'printf "%s\n" "namespace = \"netbench\"" "image = \"'"$TAG"'\"" \
        "server_node = \"a\"" "client_nodes = [\"b\"]" "runtime_classes = [\"runc\"]" >/tmp/k8s.toml &&
        netbench k8s --dry-run /tmp/k8s.toml' 2>&1 || true)
    check "netbench k8s --dry-run" "kind: Job" "$out"
    out=$(run sh -c 'ls /etc/ssl/certs/ca-certificates.crt' 2>&1 || true)
    check "ca-certificates" "ca-certificates.crt" "$out"

    # The image's CMD (the qperf server), run as the image says, against the
    # host's stock qperf client; `quit` makes the server exit by itself.
    cmd=$("${B[@]}" inspect --type image --format '{{range .OCIv1.Config.Cmd}}{{.}} {{end}}' "$TAG")
    check "CMD is the qperf server on $QPERF_PORT" "qperf -lp $QPERF_PORT" "$cmd"
    if [ -x /usr/bin/qperf ] && port_free "$QPERF_PORT"; then
        # shellcheck disable=SC2086
        run $cmd >"$WORK/qperf-server.log" 2>&1 &
        qpid=$!
        if wait_listen "$QPERF_PORT"; then
            out=$(timeout 30 /usr/bin/qperf -lp "$QPERF_PORT" -t 1 127.0.0.1 tcp_lat tcp_bw 2>&1 || true)
            printf '%s\n' "$out"
            check "stock qperf -> image qperf server: tcp_lat" "latency" "$out"
            check "stock qperf -> image qperf server: tcp_bw" "bw" "$out"
            if [ "$QPERF_PORT" = 4000 ]; then
                pod_job qperf "tcp_lat:"
            else
                printf 'skip  qperf Job command (QPERF_PORT is not the Service port 4000)\n'
            fi
            timeout 10 /usr/bin/qperf -lp "$QPERF_PORT" 127.0.0.1 quit >/dev/null 2>&1 || true
            if timeout 10 tail --pid="$qpid" -f /dev/null; then
                printf 'ok    image qperf server exits on quit\n'
            else
                printf 'FAIL  image qperf server still running after quit\n'
                fails=$((fails + 1))
            fi
        else
            printf 'FAIL  image qperf server did not listen on %s:\n' "$QPERF_PORT"
            cat "$WORK/qperf-server.log"
            fails=$((fails + 1))
        fi
        stop_run "$qpid"
    else
        printf 'skip  qperf server test (no /usr/bin/qperf, or port %s busy)\n' "$QPERF_PORT"
    fi

    # The image's HTTP target (netbench serve-http) against the image's wrk
    # and the host's stock wrk.
    if port_free "$HTTP_PORT"; then
        run netbench serve-http "127.0.0.1:$HTTP_PORT" >"$WORK/serve-http.log" 2>&1 &
        hpid=$!
        if wait_listen "$HTTP_PORT"; then
            out=$(timeout 30 "${B[@]}" run --isolation "$ISOLATION" "$ctr" -- \
                wrk -t1 -c10 -d1s "http://127.0.0.1:$HTTP_PORT/" 2>&1 || true)
            printf '%s\n' "$out"
            check "image wrk -> image serve-http" "Requests/sec:" "$out"
            if [ -x /usr/bin/wrk ]; then
                out=$(timeout 30 /usr/bin/wrk -t1 -c10 -d1s "http://127.0.0.1:$HTTP_PORT/" 2>&1 || true)
                printf '%s\n' "$out"
                check "stock wrk -> image serve-http" "Requests/sec:" "$out"
            fi
            if [ "$HTTP_PORT" = 8080 ]; then
                pod_job wrk "Requests/sec:"
            else
                printf 'skip  wrk Job command (HTTP_PORT is not the Service port 8080)\n'
            fi
        else
            printf 'FAIL  image serve-http did not listen on %s:\n' "$HTTP_PORT"
            cat "$WORK/serve-http.log"
            fails=$((fails + 1))
        fi
        stop_run "$hpid"
    else
        printf 'skip  HTTP test (port %s busy)\n' "$HTTP_PORT"
    fi

    [ "$fails" = 0 ] || die "$fails check(s) failed"
    log "image $TAG verified"
}

clean() {
    [ -d "$WORK" ] || return 0
    "${B[@]}" rm --all >/dev/null 2>&1 || true
    "${B[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$WORK"
}

case "${1:-all}" in
all) bases && build && verify ;;
bases) bases ;;
build) build ;;
verify) verify ;;
clean) clean ;;
*) die "usage: $0 [all|bases|build|verify|clean]" ;;
esac
