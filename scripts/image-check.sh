#!/usr/bin/env bash
# `make image-check`: build the image here and prove it, without Docker Hub or a Docker daemon.
#
# 1. bootstraps a Debian bookworm base with mmdebstrap (from the Debian mirror, like
#    debian:bookworm-slim: minbase, no docs) and imports it into podman;
# 2. builds the Dockerfile on it (BASE_IMAGE build argument), timing the build;
# 3. starts the web task as ECS runs it: the `web` and `nginx` processes as two
#    containers from the image, read-only root filesystem, user 10001, sharing
#    localhost (host network here, awsvpc there), the embedded default inside
#    (SQLite and worker threads in /tmp: no PostgreSQL, Redis or S3 needed);
# 4. runs scripts/smoke.sh through nginx: /health, /api/v1/health, docx -> pdf.
#
# Prints the image size and build time. Needs root (or rootless podman) and apt.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-localhost/convert-all:check}"
BASE="${BASE:-localhost/convert-all-base:bookworm}"
SUITE="${SUITE:-bookworm}"
WORK="$(mktemp -d /tmp/convertall-image-check.XXXXXX)"
containers=()

cleanup() {
  for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

need_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v newuidmap >/dev/null || missing+=(uidmap)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/libexec/podman/catatonit ] || missing+=(catatonit)  # podman run --init
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
}

# Two facts of this kind of machine (a VM whose /sys/fs/cgroup mixes v1 controllers with a
# v2 mount, and whose root lacks CAP_SYS_RESOURCE), measured with podman 4.3:
# - crun, Debian's default runtime, refuses: "cgroups in hybrid mode not supported";
#   runc handles the v1 controllers;
# - podman's default rlimits (nofile 1048576, ...) are above this shell's hard limits, and
#   without CAP_SYS_RESOURCE the runtime cannot raise them: "setrlimit RLIMIT_NOFILE:
#   Operation not permitted". So the containers get this shell's own limits (nproc capped:
#   65536 was refused here while 32768 was not).
configure_podman() {
  local nofile nproc
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF="$WORK/containers.conf"
}

bootstrap_base() {
  if podman image exists "$BASE" && [ -z "${REBUILD_BASE:-}" ]; then
    echo "$BASE exists (REBUILD_BASE=1 to make it again)"
    return
  fi
  step "bootstrapping Debian $SUITE with mmdebstrap"
  local t0=$SECONDS
  # What debian:*-slim leaves out: documentation, man pages, most locales.
  mmdebstrap --variant=minbase --include=ca-certificates \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$SUITE" "$WORK/base.tar"
  podman import --change 'CMD ["bash"]' "$WORK/base.tar" "$BASE" >/dev/null
  echo "base $BASE: $(podman image inspect --format '{{.Size}}' "$BASE" | numfmt --to=iec) in $((SECONDS - t0)) s"
}

build_image() {
  step "building $IMAGE on $BASE"
  local t0=$SECONDS
  # docker format: OCI image configs cannot hold the Dockerfile's SHELL.
  local secret=()
  # This machine reaches PyPI through a TLS-inspecting proxy its own CA bundle trusts.
  [ -s /etc/ssl/certs/ca-certificates.crt ] && secret=(--secret "id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt")
  podman build --format docker --network host "${secret[@]}" --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE" -f Dockerfile . | tail -n 20
  BUILD_SECONDS=$((SECONDS - t0))
  SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")
  echo "image $IMAGE: $(numfmt --to=iec "$SIZE") ($SIZE bytes), built in ${BUILD_SECONDS} s"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_task() {
  step "starting the web task: web + nginx containers, read-only root"
  WEB_PORT=$(free_port); NGINX_PORT=$(free_port)
  # web and the one-off migrate share /tmp (the embedded default keeps SQLite there);
  # nginx has a tmpfs of its own, as each container has its own volume on ECS.
  mkdir -m 1777 "$WORK/web-tmp"
  local common=(--network host --read-only --init
    -e "PORT=$WEB_PORT" -e "NGINX_PORT=$NGINX_PORT" -e "NGINX_UPSTREAM=127.0.0.1:$WEB_PORT"
    -e "SECRET_KEY=image-check-$(date +%s)-not-a-secret-but-long-enough-for-django"
    -e "ALLOWED_HOSTS=127.0.0.1,localhost" -e SECURE_SSL_REDIRECT=0 -e RATE_LIMIT=1000/min
    -e WEB_CONCURRENCY=1 -e GUNICORN_THREADS=4)
  containers+=(convertall-check-web convertall-check-nginx)
  podman rm -f convertall-check-web convertall-check-nginx >/dev/null 2>&1 || true
  podman run --rm "${common[@]}" -v "$WORK/web-tmp:/tmp" "$IMAGE" migrate | tail -n 3
  echo "migrate: done"
  podman run -d --name convertall-check-web "${common[@]}" -v "$WORK/web-tmp:/tmp" "$IMAGE" web >/dev/null
  podman run -d --name convertall-check-nginx "${common[@]}" --tmpfs "/tmp:rw,exec,mode=1777,size=2g" "$IMAGE" nginx >/dev/null
  sleep 2
  if [ "$(podman inspect --format '{{.State.Running}}' convertall-check-web)" != true ]; then
    podman logs convertall-check-web 2>&1 | tail -n 40
    echo "the web container exited" >&2; exit 1
  fi
  echo "user in the container: $(podman exec convertall-check-web id -u):$(podman exec convertall-check-web id -g)"
  if podman exec convertall-check-web touch /app/probe 2>/dev/null; then
    echo "the root filesystem is writable" >&2; exit 1
  fi
  echo "root filesystem: read-only (touch /app/probe refused)"
  local deadline=$((SECONDS + 90))
  until curl -fsS "http://127.0.0.1:$NGINX_PORT/health" >/dev/null 2>&1; do
    if [ $SECONDS -gt $deadline ]; then
      podman logs convertall-check-web 2>&1 | tail -n 40; podman logs convertall-check-nginx 2>&1 | tail -n 20
      echo "the web task did not answer /health within 90 s" >&2; exit 1
    fi
    sleep 1
  done
  local c
  for c in web nginx; do
    # Three tries, as the HEALTHCHECK's own retries (a busy shared machine can be slow).
    podman healthcheck run "convertall-check-$c" || podman healthcheck run "convertall-check-$c" \
      || podman healthcheck run "convertall-check-$c" || { echo "HEALTHCHECK ($c) failed" >&2; exit 1; }
    echo "HEALTHCHECK ($c): healthy"
  done
}

need_tools
configure_podman
bootstrap_base
build_image
run_task
step "smoke tests through nginx"
scripts/smoke.sh "http://127.0.0.1:$NGINX_PORT"
step "image-check passed: size $(numfmt --to=iec "$SIZE"), build ${BUILD_SECONDS} s"
