#!/usr/bin/env bash
# Installs the Debian packages Convert-All needs when they are missing.
# Usage: scripts/system-deps.sh run|test
# As root with apt-get: installs what is missing. Otherwise: names what to install and fails.
set -euo pipefail
mode="${1:-run}"

missing=()
need() { # need PACKAGE CHECK-COMMAND...
  local pkg="$1"; shift
  if ! "$@" >/dev/null 2>&1; then missing+=("$pkg"); fi
}
have() { command -v "$1"; }
pyuno() { /usr/bin/python3 -c "import uno"; }
lib() { ldconfig -p | grep -q "$1"; }

need libmagic1 lib libmagic.so.1
need util-linux have prlimit
# The sandbox's namespaces layer (conversions/sandbox.py); where namespaces are refused it probes off.
need bubblewrap have bwrap
need librsvg2-bin have rsvg-convert
# Archives (zip, tar.*, 7z) in and out: bsdtar from libarchive.
need libarchive-tools have bsdtar
need libvips42 lib libvips.so.42
need ffmpeg have ffprobe
need poppler-utils have pdftotext
need ghostscript have gs
need pandoc have pandoc
# E-books (epub <-> mobi/azw3); pulls Qt, ~100 packages.
need calibre have ebook-convert
need libreoffice-writer-nogui have soffice
need libreoffice-calc-nogui test -e /usr/lib/libreoffice/program/libsclo.so
need libreoffice-impress-nogui test -e /usr/lib/libreoffice/program/libsdlo.so
need python3-uno pyuno
need fonts-dejavu-core test -d /usr/share/fonts/truetype/dejavu
need fonts-liberation2 test -d /usr/share/fonts/truetype/liberation2
need ca-certificates test -d /etc/ssl/certs

if [ "$mode" = bench ]; then
  # bench/pipeline.py runs the production-shaped stack and loads it with wrk.
  need wrk have wrk
  need postgresql sh -c 'ls /usr/lib/postgresql/*/bin/pg_ctl'
  need redis-server have redis-server
  # bench/encoders.py compares our stills with the encoders' own command lines.
  need webp have cwebp
  need libavif-bin have avifenc
fi

if [ "$mode" = test ]; then
  # The suite starts throwaway PostgreSQL/Redis servers from these when none runs.
  need postgresql sh -c 'ls /usr/lib/postgresql/*/bin/pg_ctl'
  need redis-server have redis-server
  need chromium have chromium
  need procps have pkill
  need iproute2 have ip
  # tests/ship: the web task's nginx config (nginx -t), scripts/smoke.sh, the scripts' lint.
  need nginx-light sh -c 'command -v nginx || test -x /usr/sbin/nginx'
  need jq have jq
  need curl have curl
  need shellcheck have shellcheck
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "Missing system packages: ${missing[*]}" >&2
echo "Install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
