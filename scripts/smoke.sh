#!/usr/bin/env bash
# The deployment plan's smoke tests (docs/deploy.md). The deploy workflow runs them
# after every deployment; `make test` runs them against a local stack
# (tests/ship/test_smoke.py); `make image-check` against the built image.
#
#   scripts/smoke.sh BASE_URL [API_URL]
#
# 1. GET BASE_URL/health            -> {"status":"ok"}
# 2. GET API_URL/api/v1/health      -> {"status":"healthy","services":["file","media","filter"],...}
# 3. POST BASE_URL/api/convert a .docx with targetFormat=pdf, poll /api/status/<id>
#    until it is done, GET /api/download/<id> (following the redirect): a real PDF.
#
# Needs curl and jq. SMOKE_TIMEOUT (seconds, default 180) bounds the conversion.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BASE_URL [API_URL]" >&2
  exit 2
fi
BASE="${1%/}"
API="${2:-$BASE}"
API="${API%/}"
TIMEOUT="${SMOKE_TIMEOUT:-180}"
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
CURL=(curl -sS --max-time 30 --retry 2 --retry-connrefused)

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# 1. Liveness.
body="$("${CURL[@]}" "$BASE/health")" || fail "GET $BASE/health did not answer"
[ "$(jq -c . <<<"$body")" = '{"status":"ok"}' ] || fail "GET $BASE/health answered $body"
pass "GET $BASE/health -> $body"

# 2. Readiness: database, broker, storage and a worker on every queue (a task just
#    started may need a few seconds for its workers' first heartbeat: up to 5 tries).
ready() { jq -e '.status == "healthy" and .services == ["file","media","filter"]' <<<"$1" >/dev/null 2>&1; }
for try in 1 2 3 4 5; do
  # No --retry here: curl would retry a 503 and print every answer.
  body="$(curl -sS --max-time 30 "$API/api/v1/health")" || fail "GET $API/api/v1/health did not answer"
  ready "$body" && break
  [ "$try" = 5 ] && fail "GET $API/api/v1/health answered $body"
  sleep 3
done
pass "GET $API/api/v1/health -> $(jq -c '{status, services}' <<<"$body")"

# 3. End to end: docx -> pdf.
answer="$("${CURL[@]}" -X POST "$BASE/api/convert" -F "file=@$HERE/smoke/test.docx" -F targetFormat=pdf)" \
  || fail "POST $BASE/api/convert did not answer"
job="$(jq -r '.jobId // empty' <<<"$answer")"
[ -n "$job" ] || fail "POST $BASE/api/convert answered $answer"
pass "POST $BASE/api/convert -> job $job"

deadline=$((SECONDS + TIMEOUT))
while :; do
  status="$("${CURL[@]}" "$BASE/api/status/$job")" || fail "GET /api/status/$job did not answer"
  state="$(jq -r .status <<<"$status")"
  case "$state" in
    succeeded) break ;;
    failed|canceled|expired) fail "job $job ended $state: $(jq -c .error <<<"$status")" ;;
  esac
  [ $SECONDS -lt $deadline ] || fail "job $job still $state after ${TIMEOUT}s"
  sleep 1
done
pass "GET $BASE/api/status/$job -> succeeded"

"${CURL[@]}" -f -L "$BASE/api/download/$job" -o "$OUT/result.pdf" || fail "GET /api/download/$job failed"
[ "$(head -c 5 "$OUT/result.pdf")" = "%PDF-" ] || fail "the download is not a PDF: $(head -c 80 "$OUT/result.pdf" | tr -dc '[:print:]')"
if command -v pdftotext >/dev/null; then
  pdftotext "$OUT/result.pdf" - | grep -q "smoke test" || fail "the PDF does not contain the document's text"
fi
pass "GET $BASE/api/download/$job -> PDF, $(wc -c <"$OUT/result.pdf") bytes"
echo "smoke tests passed"
