#!/bin/bash
# Builds Mizzen's runtime image from a binary built on this machine, on a Debian base made here
# with debootstrap (no registry needed), runs it as a Kubernetes pod would and checks it from
# outside. `make image-test` runs it with the release binary; ContainerImageTests with the debug
# one (its Swift runtime libraries go into the image beside it).
#
#   scripts/image-test.sh [--binary PATH] [--image NAME:TAG] [--version V]
#
# The pod: a network namespace of its own (`ip netns`), joined by the container
# (`--network ns:`) and by the Bookinfo stand-ins (`mizzen demo` on the host, in that
# namespace), so the ports are Gateways/bookinfo's own (stand-ins 19080-19085, the gateway 8080,
# readiness 15021) and nothing collides with the host or with other tests. The container runs
# the image's default command with Gateways/bookinfo mounted as its configuration, a read-only
# root filesystem and no tmpfs, as `readOnlyRootFilesystem: true` does.
#
# Prints one `ok N - ...` or `not ok N - ...` line per check. Exits 0 when every check passed,
# 1 when one failed, 77 (with a `SKIP: reason` line) where podman cannot build or run containers:
# not root, podman, runc, debootstrap or iproute2 missing, Debian's archive out of reach, podman
# unable to store images or to run a plain Debian container, no network namespaces.
#
# Podman runs with scripts/containers.conf (through CONTAINERS_CONF, so the user's own is left
# alone): runc and cgroupfs (crun refuses hybrid cgroup hierarchies), no default ulimits
# (podman's exceed the hard limits of some hosts). The base and the scratch files live under
# .build/image/.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary="$root/.build/release/mizzen"
image="localhost/mizzen:0.1.0"
version="0.1.0"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--image NAME:TAG] [--version V]" >&2; exit 2 ;;
  esac
done

skip() { echo "SKIP: $*"; exit 77; }
work="$root/.build/image"
base_image="localhost/mizzen-debian:bookworm"
base_tar="$work/debian-bookworm-minbase.tar"

[ "$(id -u)" = 0 ] || skip "the image test needs root (podman as root with runc, ip netns)"
for tool in podman debootstrap ip curl; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (make deps installs podman, runc, debootstrap, iproute2, curl)"
done
command -v runc >/dev/null || skip "runc is not installed (make deps installs it)"
[ -x "$binary" ] || { echo "no binary at $binary (build it first)" >&2; exit 2; }

mkdir -p "$work"
export CONTAINERS_CONF="$root/scripts/containers.conf"

# --- the Debian base, made once and cached (the tar under .build/, the image in podman's store)
exec 9>"$work/base.lock"
flock 9
if ! podman image exists "$base_image"; then
  if [ ! -s "$base_tar" ]; then
    echo "# debootstrap --variant=minbase bookworm (once; cached in $base_tar)"
    rootfs="$work/rootfs.$$"
    rm -rf "$rootfs"
    started=$SECONDS
    if ! debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1; then
      rm -rf "$rootfs"
      skip "debootstrap could not make a Debian base (no network to deb.debian.org?): $(tail -n 1 "$work/debootstrap.log")"
    fi
    # Slim as debian:bookworm-slim is: no package lists, no downloaded packages, and dpkg told
    # to leave documentation and translations out of what the image installs later.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
           "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
           "$rootfs"/var/log/* "$rootfs"/tmp/*
    cat > "$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    tar -C "$rootfs" --numeric-owner -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
    rm -rf "$rootfs"
    echo "# base made in $((SECONDS - started)) s ($(du -h "$base_tar" | cut -f1))"
  fi
  podman import --change 'CMD ["/bin/bash"]' "$base_tar" "$base_image" > "$work/import.log" 2>&1 ||
    skip "podman cannot store images here: $(tail -n 1 "$work/import.log")"
fi
flock -u 9
# Can podman run a container at all (storage driver, runtime, cgroups)? Plain Debian, no network.
probe=$(podman run --rm --network none "$base_image" /bin/true 2>&1) || skip "podman cannot run containers here: $(tail -n 1 <<<"$probe")"

# --- the build context: the binary and the shared libraries it needs that Debian does not ship
context="$work/context.$$"
rm -rf "$context"
mkdir -p "$context/bin" "$context/lib"
cleanup_context() { rm -rf "$context"; }
trap cleanup_context EXIT
cp "$binary" "$context/bin/mizzen"
echo "# ldd $binary:"
ldd "$binary" | sed 's/^/#   /'
# Libraries of the Swift toolchain (a debug build's runtime) go beside the binary; those under
# /lib and /usr/lib come from the image's Debian packages (the test below checks that they do).
while read -r path; do
  case "$path" in
    /lib/*|/lib64/*|/usr/lib/*|/usr/lib64/*) ;;
    *) cp -L "$path" "$context/lib/" ;;
  esac
done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
copied=$(ls "$context/lib" | wc -l)
echo "# $copied shared libraries shipped beside the binary"

started=$SECONDS
build_log="$work/build.$$.log"
# The images these tags name now: replaced by this build, they are removed after it (only
# those, never other untagged images).
replaced=$(podman image inspect --format '{{.Id}}' localhost/mizzen-runtime-base:bookworm "$image" 2>/dev/null)
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
source_url=$(git -C "$root" remote get-url origin 2>/dev/null || echo NOASSERTION)
# The base stage first, under a tag of its own, so that its package layer stays cached when a
# test image built on it is removed.
if ! podman build --quiet --network host --target base \
       --build-arg "DEBIAN_IMAGE=$base_image" --build-arg "VERSION=$version" \
       --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url" \
       -f "$root/Containerfile" -t localhost/mizzen-runtime-base:bookworm "$context" > "$build_log" 2>&1 ||
   ! podman build --quiet --network host --target prebuilt \
       --build-context "mizzen-binary=$context" \
       --build-arg "DEBIAN_IMAGE=$base_image" --build-arg "VERSION=$version" \
       --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url" \
       -f "$root/Containerfile" -t "$image" "$context" >> "$build_log" 2>&1; then
  cat "$build_log"
  if grep -qiE "could not resolve|temporary failure resolving|failed to fetch" "$build_log"; then
    skip "the image build could not reach Debian's archive"
  fi
  echo "not ok 1 - podman build --target prebuilt"
  exit 1
fi
rm -f "$build_log"
for id in $replaced; do
  podman image exists "$id" && [ -z "$(podman image inspect --format '{{.RepoTags}}' "$id" | tr -d '[]')" ] && podman rmi "$id" > /dev/null 2>&1
done
echo "# image $image built in $((SECONDS - started)) s"

# --- checks
failures=0
count=0
check() {  # check "description" command...: ok when the command succeeds
  local description="$1"; shift
  count=$((count + 1))
  local output
  if output=$("$@" 2>&1); then
    echo "ok $count - $description"
  else
    failures=$((failures + 1))
    echo "not ok $count - $description"
    [ -n "$output" ] && printf '%s\n' "$output" | head -n 20 | sed 's/^/#   /'
  fi
}
expect() {  # expect WANTED GOT: equality, with both shown when they differ
  [ "$1" = "$2" ] || { echo "expected: $1"; echo "got:      $2"; return 1; }
}
contains() {  # contains NEEDLE HAYSTACK
  case "$2" in *"$1"*) return 0 ;; esac
  echo "no \"$1\" in:"; printf '%s\n' "$2" | head -n 10; return 1
}

inspect() { podman image inspect --format "$1" "$image"; }
check "the image runs as uid 1337 (USER 1337:1337)" expect "1337:1337" "$(inspect '{{.Config.User}}')"
check "the entrypoint is the binary itself, exec form, no shell" expect "[/usr/local/bin/mizzen]" "$(inspect '{{.Config.Entrypoint}}')"
check "the default command is the gateway on /etc/mizzen/config" \
  contains "gateway --config /etc/mizzen/config" "$(inspect '{{.Config.Cmd}}')"
check "OCI label version is $version" expect "$version" "$(inspect '{{index .Labels "org.opencontainers.image.version"}}')"
check "OCI labels source, revision and licenses are set" \
  bash -c '[ -n "$1" ] && [ "$1" != "<no value>" ] && [ "$2" = "$4" ] && [ -n "$3" ] && [ "$3" != "<no value>" ] || { echo "source=$1 revision=$2 licenses=$3"; exit 1; }' _ \
  "$(inspect '{{index .Labels "org.opencontainers.image.source"}}')" \
  "$(inspect '{{index .Labels "org.opencontainers.image.revision"}}')" \
  "$(inspect '{{index .Labels "org.opencontainers.image.licenses"}}')" "$revision"
in_image_ldd=$(podman run --rm --network none --entrypoint /usr/bin/ldd "$image" /usr/local/bin/mizzen 2>&1)
check "every library the binary links is in the image (ldd inside it)" \
  bash -c '! grep -q "not found" <<<"$1" && grep -q libpcre2-8 <<<"$1" && grep -q libyaml <<<"$1" || { echo "$1"; exit 1; }' _ "$in_image_ldd"
echo "# ldd inside the image:"; printf '%s\n' "$in_image_ldd" | sed 's/^/#   /'

# The pod's network namespace, the stand-ins and the container.
pod="mzimg$$"
container="mizzen-image-test-$$"
demo_log="$work/demo.$$.log"
demo_pid=""
cleanup() {
  podman rm -f -t 0 "$container" >/dev/null 2>&1
  [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null
  ip netns del "$pod" 2>/dev/null
  rm -f "$demo_log"
  cleanup_context
}
trap cleanup EXIT
ip netns add "$pod" && ip -n "$pod" link set lo up || skip "no network namespaces here (ip netns add failed)"
in_pod() { ip netns exec "$pod" "$@"; }
pod_curl() { in_pod curl -sS --max-time 20 "$@"; }

# The stand-ins: `mizzen demo` on the host in the pod's namespace. Its own gateway (18080)
# carries productpage's call to reviews; every request below enters through the container.
# (`ip netns exec` itself, not a function, in the background: it execs mizzen, so $! is the demo.)
ip netns exec "$pod" "$binary" demo --port 18080 --config "$root/Gateways/bookinfo" \
  --stats-port=-1 --status-port=-1 --admin-port=-1 > "$demo_log" 2>&1 &
demo_pid=$!
for _ in $(seq 1 300); do
  grep -q "Bookinfo is up" "$demo_log" && break
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "Bookinfo is up" "$demo_log" || { echo "the Bookinfo stand-ins did not start:"; cat "$demo_log"; exit 1; }

started=$SECONDS
podman run -d --name "$container" --network "ns:/run/netns/$pod" \
  --read-only --read-only-tmpfs=false \
  -v "$root/Gateways/bookinfo:/etc/mizzen/config:ro" \
  "$image" > /dev/null || { echo "podman run failed" >&2; exit 1; }

ready=""
for _ in $(seq 1 300); do
  ready=$(pod_curl -o /dev/null -w '%{http_code}' http://127.0.0.1:15021/healthz/ready 2>/dev/null)
  [ "$ready" = 200 ] && break
  sleep 0.1
done
check "/healthz/ready on 15021 answers 200 once the configuration is served ($((SECONDS - started)) s after podman run)" expect 200 "$ready"
[ "$ready" = 200 ] || { podman logs "$container" 2>&1 | tail -n 30 | sed 's/^/#   /'; exit 1; }

# jason's request first, in the background: reviews v2 calls ratings, which routing.yaml delays
# 7 s for jason, so the reviews route's 6 s timeout answers (Istio's fault-injection task).
jason_result="$work/jason.$$"
pod_curl -o /dev/null -w '%{http_code} %{time_total}' -H 'Host: reviews.default.svc.cluster.local' -H 'end-user: jason' \
  http://127.0.0.1:8080/reviews/0 > "$jason_result" &
jason_pid=$!
page=$(pod_curl http://127.0.0.1:8080/productpage 2>&1)
check "/productpage is routed to productpage, which shows reviews v1" \
  bash -c 'grep -q "productpage v1" <<<"$1" && grep -q "reviews v1" <<<"$1" || { echo "$1"; exit 1; }' _ "$page"
check "everyone else is routed to reviews v1" contains "reviews v1" \
  "$(pod_curl -H 'Host: reviews.default.svc.cluster.local' http://127.0.0.1:8080/reviews/0)"
check "HTTP/2 with prior knowledge is served" contains "productpage v1" \
  "$(pod_curl --http2-prior-knowledge http://127.0.0.1:8080/productpage)"
check "a path without a route is 404" expect 404 \
  "$(pod_curl -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/no-such-page)"
wait "$jason_pid"
read -r jason_code jason_seconds < "$jason_result"
jason_seconds=$(printf '%.1f' "${jason_seconds:-0}")
rm -f "$jason_result"
check "end-user: jason gets reviews' 6 s timeout (504 after ${jason_seconds} s), not ratings' 7 s delay" \
  bash -c '[ "$1" = 504 ] && awk -v t="$2" '"'"'BEGIN { exit !(t > 5.5 && t < 6.9) }'"'"' || { echo "$1 after $2 s"; exit 1; }' _ "$jason_code" "$jason_seconds"
metrics=$(pod_curl http://127.0.0.1:15090/stats/prometheus | grep '^istio_requests_total')
check "Istio's metrics on 15090 count the requests to productpage" contains 'destination_service="productpage.default.svc.cluster.local"' "$metrics"
check "end-user: jason was routed to reviews v2 (its 504 UT in the metrics)" \
  bash -c 'grep "destination_canonical_service=\"reviews\"" <<<"$1" | grep "destination_version=\"v2\"" | grep "response_code=\"504\"" | grep -q "response_flags=\"UT\"" || { echo "$1"; exit 1; }' _ "$metrics"

pid=$(podman inspect --format '{{.State.Pid}}' "$container")
status_of() { grep -E "^$1:" "/proc/$pid/status" | tr -s '\t ' ' '; }
check "the process is uid 1337, not root (real, effective, saved, filesystem)" expect "Uid: 1337 1337 1337 1337" "$(status_of Uid)"
check "the process is gid 1337" expect "Gid: 1337 1337 1337 1337" "$(status_of Gid)"
check "the process holds no capabilities" expect "CapEff: 0000000000000000" "$(status_of CapEff)"
check "the container's PID 1 is mizzen itself" expect "mizzen" "$(cat "/proc/$pid/comm")"
write_probe=$(podman exec --user 0 "$container" /usr/bin/touch /probe 2>&1)
check "the root filesystem is read-only, even to root in the container" contains "Read-only file system" "$write_probe"
check "the gateway logged no error on the read-only root" \
  bash -c '! grep -iE "error|critical" <<<"$1" || exit 1' _ "$(podman logs "$container" 2>&1)"

# SIGTERM: readiness fails at once, requests are still served with Connection: close during the
# drain (5 s, --drain-duration), then mizzen exits 0 on its own.
podman kill --signal TERM "$container" > /dev/null
term=$(date +%s.%N)
sleep 0.3
check "after SIGTERM /healthz/ready answers 503" expect 503 \
  "$(pod_curl -o /dev/null -w '%{http_code}' http://127.0.0.1:15021/healthz/ready)"
check "during the drain requests are served with Connection: close" \
  bash -c 'grep -q "^HTTP/1.1 200" <<<"$1" && grep -qi "^connection: close" <<<"$1" || { echo "$1"; exit 1; }' _ \
  "$(pod_curl -i http://127.0.0.1:8080/productpage | tr -d '\r')"
exit_code=$(timeout 30 podman wait "$container")
elapsed=$(awk -v a="$(date +%s.%N)" -v b="$term" 'BEGIN { printf "%.1f", a - b }')
check "SIGTERM stops it with status 0" expect 0 "$exit_code"
check "it stops after the 5 s drain, not 5 s later (took ${elapsed} s; Kubernetes allows 30)" \
  awk -v t="$elapsed" 'BEGIN { exit !(t >= 4.5 && t < 10) }'

echo "# $count checks, $failures failed"
[ "$failures" = 0 ]
