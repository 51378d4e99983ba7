#!/usr/bin/env bash
# Container image test (`make container-test`): builds the Dockerfile with buildah on a locally made Debian
# base (no registry needed), runs the image's own ENTRYPOINT/CMD/USER/ENV against the built-in mock provider,
# and checks readiness, a proxied chat request, the HEALTHCHECK command, the non-root uid, a drain on SIGTERM
# with exit 0, and that SIGTERM still works when the gateway is PID 1 of its own PID namespace.
#
# Needs root, buildah and (for a cold run) debootstrap; prints "SKIPPED: ..." and exits 0 without buildah.
# Environment: CONTAINER_TEST_CACHE (default /var/tmp/agentgateway-container-test) keeps the base rootfs and
# the test's own buildah storage (images: localhost/agentgateway-test-base:bookworm, .../agentgateway-py:container-test);
# CONTAINER_TEST_REBUILD_BASE=1 makes a fresh one; CONTAINER_TEST_NO_BUILD=1 reruns the checks on the last
# built image; DEBIAN_MIRROR; PIP_INDEX_URL / PIP_EXTRA_INDEX_URL /
# PIP_TRUSTED_HOST are passed into the build, and PIP_CERT (default: the system CA bundle) as a build secret.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/container
CHECK=(python3 "$HERE/check.py")
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Runtime needs only python3 (+ CA certificates for HTTPS providers); the builder stage apt-installs the rest.
BASE_PACKAGES=python3,ca-certificates
STORE=${CONTAINER_TEST_CACHE:-/var/tmp/agentgateway-container-test}
CACHE=$STORE/$SUITE-minbase
BASE_IMAGE=localhost/agentgateway-test-base:$SUITE
IMAGE=localhost/agentgateway-py:container-test
# A storage of its own: no clash with the machine's buildah/podman images or their storage driver, and the
# test may prune it freely.
B=(buildah --root "$STORE/storage" --runroot /run/agentgateway-container-test --storage-driver vfs)
RUN=("${B[@]}" run --isolation chroot)

if ! command -v buildah >/dev/null 2>&1; then
    echo "SKIPPED: buildah not available (apt-get install buildah debootstrap)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: needs root (buildah vfs storage with chroot isolation, unshare)"
    exit 0
fi

WORK=$(mktemp -d /tmp/agentgateway-container-test.XXXXXX)
CTR=""
PIDS=()
RESULTS=()
FAILED=0
T_START=$(date +%s%N)

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
secs() { printf '%d.%01ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }
pass() { RESULTS+=("PASS  $1"); echo "PASS  $1"; }
fail() { RESULTS+=("FAIL  $1"); echo "FAIL  $1" >&2; FAILED=1; }
show_log() { echo "---- last lines of $1" >&2; tail -n "${2:-30}" "$1" >&2; echo "----" >&2; }

summary() {
    echo
    echo "== container test summary ($(secs "$(ms_since "$T_START")") total: base ${T_BASE:-?}, build ${T_BUILD:-?}, run ${T_RUN:-?})"
    printf '%s\n' "${RESULTS[@]}"
    if [ "$FAILED" = 0 ]; then echo "container test: PASS"; else echo "container test: FAIL (logs in $WORK)"; fi
}

cleanup() {
    # buildah run passes SIGTERM on to the container's command; anything still alive 10 s later is killed,
    # descendants included (they were listed first: unshare's child survives unshare, since chroot's change
    # of uid clears --kill-child's parent-death signal).
    local pid tree
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        tree=$(descendants "$pid")
        kill -TERM "$pid" 2>/dev/null
        wait_exit "$pid" 10
        # shellcheck disable=SC2086
        kill -KILL "$pid" $tree 2>/dev/null
    done
    if [ -n "$CTR" ]; then
        "${B[@]}" umount "$CTR" >/dev/null 2>&1
        "${B[@]}" rm "$CTR" >/dev/null 2>&1
    fi
    if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

descendants() {
    local child
    for child in $(pgrep -P "$1"); do echo "$child"; descendants "$child"; done
}

# The innermost descendant of $1 that runs the container's command (buildah's chroot runtime sits between).
command_pid() {
    local pid=$1 child
    while child=$(pgrep -P "$pid" | head -n 1) && [ -n "$child" ]; do pid=$child; done
    echo "$pid"
}

# Waits up to $2 seconds for background job $1; sets WAIT_RC to its exit code, or "timeout".
wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then WAIT_RC=timeout; return; fi
    wait "$pid"
    WAIT_RC=$?
}

timestamp() {
    local line
    while IFS= read -r line; do printf '%(%s)T %s\n' -1 "$line"; done
}

# Where the build's time went: the three longest Dockerfile steps, from the timestamped log.
slowest_steps() {
    awk '/ STEP [0-9]+\/[0-9]+: | COMMIT |^[0-9]+ build ended$/ {
             if (step != "") printf "%5ds  %s\n", $1 - start, substr(step, 1, 90)
             start = $1; step = substr($0, index($0, " ") + 1)
         }' "$1" | sort -rn | head -n 3 | sed 's/^/build: slowest step /'
}

# ---- 1. base image: debootstrap once, keep the tarball and the imported image -------------------------
build_base() {
    if [ "${CONTAINER_TEST_REBUILD_BASE:-}" = 1 ]; then
        rm -rf "$CACHE"
        "${B[@]}" rmi -f "$BASE_IMAGE" >/dev/null 2>&1
    fi
    if "${B[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
        echo "base: reusing image $BASE_IMAGE"
        return 0
    fi
    mkdir -p "$CACHE"
    if [ ! -s "$CACHE/rootfs.tar" ]; then
        if ! command -v debootstrap >/dev/null 2>&1; then
            fail "base image: debootstrap not available (apt-get install debootstrap)"
            return 1
        fi
        echo "base: debootstrap $SUITE ($BASE_PACKAGES) from $MIRROR"
        rm -rf "$CACHE/rootfs"
        if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$CACHE/rootfs" "$MIRROR" \
                >"$WORK/debootstrap.log" 2>&1; then
            show_log "$WORK/debootstrap.log"
            fail "base image: debootstrap failed"
            return 1
        fi
        # Like debian:*-slim: no package lists, caches, docs or locales, and dpkg keeps it that way, which also
        # makes the builder stage's apt-get faster.
        rm -rf "$CACHE"/rootfs/var/cache/apt/archives/*.deb "$CACHE"/rootfs/var/lib/apt/lists/* \
            "$CACHE"/rootfs/usr/share/doc/* "$CACHE"/rootfs/usr/share/man/* "$CACHE"/rootfs/usr/share/locale/*
        printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
            'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
            >"$CACHE/rootfs/etc/dpkg/dpkg.cfg.d/excludes"
        tar -C "$CACHE/rootfs" --numeric-owner -cf "$CACHE/rootfs.tar.part" . && mv "$CACHE/rootfs.tar.part" "$CACHE/rootfs.tar"
        rm -rf "$CACHE/rootfs"
    else
        echo "base: reusing $CACHE/rootfs.tar"
    fi
    if ! "${B[@]}" bud --isolation chroot -q -f "$HERE/Containerfile.base" -t "$BASE_IMAGE" "$CACHE" \
            >"$WORK/base.log" 2>&1; then
        show_log "$WORK/base.log"
        fail "base image: import of $CACHE/rootfs.tar failed"
        return 1
    fi
}

# ---- 2. the image itself, from the repo's Dockerfile --------------------------------------------------
build_image() {
    local args=(--build-arg "BASE_IMAGE=$BASE_IMAGE") var ca
    for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
        # file:// indexes (local mirrors) are not visible inside the build.
        if [ -n "${!var:-}" ] && [[ "${!var}" != file:* ]]; then args+=(--build-arg "$var=${!var}"); fi
    done
    # The host's CA bundle, so a TLS-intercepting proxy the host trusts is trusted by pip in the build too.
    for ca in "${PIP_CERT:-}" /etc/ssl/certs/ca-certificates.crt; do
        if [ -n "$ca" ] && [ -r "$ca" ]; then
            args+=(--secret "id=pip-ca,src=$ca")
            break
        fi
    done
    if [ "${CONTAINER_TEST_NO_BUILD:-}" = 1 ] && "${B[@]}" inspect --type image "$IMAGE" >/dev/null 2>&1; then
        echo "build: skipped (CONTAINER_TEST_NO_BUILD=1), reusing $IMAGE"
        return 0
    fi
    echo "build: buildah bud -f Dockerfile (log: $WORK/build.log)"
    # No --layers: with the vfs driver every cached layer is a full copy of the root filesystem, which costs
    # far more (minutes, gigabytes) than it saves.
    "${B[@]}" bud --isolation chroot --format docker "${args[@]}" -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" 2>&1 \
        | timestamp >"$WORK/build.log"
    local rc=${PIPESTATUS[0]}
    echo "build ended" | timestamp >>"$WORK/build.log"
    if [ "$rc" != 0 ]; then
        show_log "$WORK/build.log" 40
        fail "image build (buildah bud)"
        return 1
    fi
    slowest_steps "$WORK/build.log"
    "${B[@]}" rmi --prune >/dev/null 2>&1  # the previous run's image, now untagged
    pass "image builds from Dockerfile on BASE_IMAGE=$BASE_IMAGE ($("${B[@]}" images --format '{{.Size}}' "$IMAGE" | head -n 1))"
}

# ---- 3. run it -------------------------------------------------------------------------------------------
check_config() {
    local ok=1 port
    [[ "$IMG_USER" =~ ^[0-9]+(:[0-9]+)?$ && "${IMG_USER%%:*}" != 0 ]] || ok=0
    [ "${IMG_ARGV[*]}" = "agentgateway -f /etc/agentgateway/config.yaml" ] || ok=0
    [ "${#IMG_HEALTH[@]}" -gt 0 ] && [ "$IMG_STOPSIGNAL" = SIGTERM ] || ok=0
    for port in 3000/tcp 15020/tcp 15021/tcp; do [[ " ${IMG_PORTS[*]} " == *" $port "* ]] || ok=0; done
    if [ $ok = 1 ]; then
        pass "image config: USER $IMG_USER, ENTRYPOINT+CMD '${IMG_ARGV[*]}', EXPOSE ${IMG_PORTS[*]}, HEALTHCHECK, STOPSIGNAL"
    else
        fail "image config: USER '$IMG_USER' ARGV '${IMG_ARGV[*]}' EXPOSE '${IMG_PORTS[*]}' STOPSIGNAL '$IMG_STOPSIGNAL' health '${IMG_HEALTH[*]}'"
    fi
}

start_mock() {
    "${RUN[@]}" "$CTR" -- python3 -m gateway.mock --host 127.0.0.1 --port "$P_MOCK" >"$WORK/mock.log" 2>&1 &
    PIDS+=($!)
    local deadline=$((SECONDS + 60))
    until grep -qs "listening" "$WORK/mock.log"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
            show_log "$WORK/mock.log"
            fail "mock provider did not start in the image"
            return 1
        fi
        sleep 0.1
    done
}

# The gateway under buildah run: the image's USER, WORKDIR, ENV and ENTRYPOINT+CMD; the shipped config with
# its ports and the mock's address moved by environment, as a deployment would.
run_gateway() {
    local run_pid gw_pid uids health_rc chat_pid rc
    "${RUN[@]}" "${ENV_ARGS[@]}" "$CTR" -- "${IMG_ARGV[@]}" >"$WORK/gateway.log" 2>&1 &
    run_pid=$!
    PIDS+=("$run_pid")
    if ! "${CHECK[@]}" ready "$P_READY" 60 "$run_pid"; then
        show_log "$WORK/gateway.log"
        fail "readiness: /healthz/ready never answered 200"
        return 1
    fi
    pass "readiness: GET /healthz/ready -> 200"
    gw_pid=$(command_pid "$run_pid")
    # Real, effective, saved and filesystem ids all match the image's USER (uid:gid).
    uids=$(awk '/^Uid:|^Gid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$gw_pid/status" 2>/dev/null | paste -sd:)
    local u=${IMG_USER%%:*} g=${IMG_USER#*:}
    if [ "$uids" = "$u,$u,$u,$u:$g,$g,$g,$g" ] && [ "$u" != 0 ]; then
        pass "non-root: gateway process (pid $gw_pid) runs as uid/gid $IMG_USER"
    else
        fail "non-root: gateway process (pid $gw_pid) has uid/gid '$uids', expected $IMG_USER"
    fi
    if "${RUN[@]}" "${ENV_ARGS[@]}" "$CTR" -- "${IMG_HEALTH[@]}" >"$WORK/health.log" 2>&1; then health_rc=0; else health_rc=1; fi
    # The same command against a port nobody serves must fail, or the check above proves nothing.
    if "${RUN[@]}" --env "READINESS_ADDR=127.0.0.1:$P_UNUSED" "$CTR" -- "${IMG_HEALTH[@]}" >/dev/null 2>&1; then
        health_rc=2
    fi
    case $health_rc in
        0) pass "HEALTHCHECK command exits 0 while ready (and non-zero with nothing listening)" ;;
        1) show_log "$WORK/health.log"; fail "HEALTHCHECK command failed against a ready gateway" ;;
        *) fail "HEALTHCHECK command succeeded with nothing listening" ;;
    esac
    if "${CHECK[@]}" chat "$P_GW" >"$WORK/chat.log" 2>&1; then
        pass "proxied request: POST /v1/chat/completions via the gateway to the mock -> $(cat "$WORK/chat.log")"
    else
        cat "$WORK/chat.log" >&2
        show_log "$WORK/gateway.log"
        fail "proxied request through the gateway"
    fi
    # SIGTERM while a slow request is in flight: it must complete, then the gateway exits 0.
    "${CHECK[@]}" chat "$P_GW" 2000 >"$WORK/drain-chat.log" 2>&1 &
    chat_pid=$!
    PIDS+=("$chat_pid")
    if ! "${CHECK[@]}" inflight "$P_STATS" 20; then
        fail "SIGTERM drain: the slow request never got in flight"
    fi
    kill -TERM "$gw_pid"
    wait_exit "$run_pid" 30
    rc=$WAIT_RC
    wait_exit "$chat_pid" 30
    local chat_rc=$WAIT_RC
    if [ "$rc" = 0 ] && [ "$chat_rc" = 0 ] && grep -q draining "$WORK/gateway.log"; then
        pass "SIGTERM: drained (in-flight request completed) and exited with code 0"
    else
        cat "$WORK/drain-chat.log" >&2
        show_log "$WORK/gateway.log"
        fail "SIGTERM: exit code '$rc', in-flight request exit '$chat_rc'"
    fi
}

# As under docker or Kubernetes, the gateway as PID 1 of a new PID namespace: the kernel drops signals that
# PID 1 has no handler for, so this proves the exec-form ENTRYPOINT gets SIGTERM and acts on it.
run_gateway_as_pid1() {
    local mnt uid=${IMG_USER%%:*} gid=${IMG_USER#*:} ns_pid init rc nspid
    mnt=$("${B[@]}" mount "$CTR") || { fail "PID 1: buildah mount failed"; return 1; }
    env -i "${IMG_ENV[@]}" "${ENV_PAIRS[@]}" \
        unshare --pid --fork --kill-child --mount --mount-proc="$mnt/proc" \
        chroot --userspec="$uid:$gid" "$mnt" /bin/sh -c 'cd "$0" && exec "$@"' "$IMG_WORKDIR" "${IMG_ARGV[@]}" \
        >"$WORK/gateway-pid1.log" 2>&1 &
    ns_pid=$!
    PIDS+=("$ns_pid")
    if ! "${CHECK[@]}" ready "$P_READY" 60 "$ns_pid"; then
        show_log "$WORK/gateway-pid1.log"
        fail "PID 1: gateway never became ready"
        return 1
    fi
    init=$(pgrep -P "$ns_pid" | head -n 1)
    nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$init/status")
    kill -TERM "$init"
    wait_exit "$ns_pid" 30
    rc=$WAIT_RC
    if [ "$nspid" = 1 ] && [ "$rc" = 0 ]; then
        pass "PID 1: gateway as PID 1 of its own PID namespace exits 0 on SIGTERM"
    else
        show_log "$WORK/gateway-pid1.log"
        fail "PID 1: pid in namespace '$nspid', exit after SIGTERM '$rc' (timeout = SIGTERM ignored)"
    fi
}

run_image() {
    CTR=$("${B[@]}" from -q --name "agentgateway-container-test-$$" "$IMAGE") || { fail "buildah from $IMAGE"; return 1; }
    eval "$("${B[@]}" inspect --type image "$IMAGE" | "${CHECK[@]}" image-config)"
    check_config
    read -r P_GW P_ADMIN P_STATS P_READY P_MOCK P_UNUSED < <("${CHECK[@]}" ports 6)
    ENV_PAIRS=("GATEWAY_PORT=$P_GW" "MOCK_ADDR=127.0.0.1:$P_MOCK" "ADMIN_ADDR=127.0.0.1:$P_ADMIN"
               "STATS_ADDR=127.0.0.1:$P_STATS" "READINESS_ADDR=127.0.0.1:$P_READY")
    ENV_ARGS=()
    local pair
    for pair in "${ENV_PAIRS[@]}"; do ENV_ARGS+=(--env "$pair"); done
    local impl
    impl=$("${RUN[@]}" "$CTR" -- python3 -c 'import gateway.fastpath as f; print(f.IMPL)' 2>&1)
    if [ "$impl" = c ]; then pass "compiled fast path loads in the runtime stage (gateway.fastpath.IMPL == c)"
    else fail "compiled fast path in the runtime stage: IMPL '$impl'"; fi
    start_mock || return 1
    run_gateway
    run_gateway_as_pid1
}

t=$(date +%s%N)
build_base
base_ok=$?
T_BASE=$(secs "$(ms_since "$t")")
if [ $base_ok = 0 ]; then
    t=$(date +%s%N)
    build_image
    build_ok=$?
    T_BUILD=$(secs "$(ms_since "$t")")
    if [ $build_ok = 0 ]; then
        t=$(date +%s%N)
        run_image
        T_RUN=$(secs "$(ms_since "$t")")
    fi
fi
summary
exit $FAILED
