#!/bin/bash
# Export to S3-compatible object storage (src/export.c, the queue in the index, `ringcap export',
# `ringcap url --s3') against a real Ceph RADOS Gateway on loopback started once by
# ../shared/tools/ceph-rgw.sh: settings refused with exit status 2 (and secrets never printed);
# an incident exported by `run -r' read back with awscli and compared byte for byte with
# `ringcap incident pcap', its metadata JSON, ID.json's storage.export, the audit trail; the
# encrypted variant uploads the sealed file as it is; presigned URLs work with curl and fail once
# changed or expired; a wrong secret key leaves the export queued and `ringcap export' completes
# it; a multipart upload; the gateway stopped in the middle of a (throttled) multipart export and
# started again ends with one complete object and no multipart upload left open; incidents+pcaps
# ships the continuous files. Needs root (CI is root); the gateway is always stopped at the end.
. "$(dirname "$0")/lib.sh"
DEMO=$ROOT/tests/data/demo-synflood.pcap
unset S3_ENDPOINT S3_BUCKET S3_REGION S3_PREFIX S3_ACCESS_KEY S3_SECRET_KEY S3_CREDENTIALS_FILE \
	S3_EXPORT S3_EXPORT_ENCRYPTED S3_MULTIPART_SIZE S3_MAX_SEND_RATE RINGCAP_AGENT RINGCAP_NOW
export RINGCAP_AGENT=agent-e2e
ids() { ls "$1/incidents" 2>/dev/null | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n; }
status_json() { "$RINGCAP" export --status -o "$1" --json 2>/dev/null; }
# row FIELD DIR [KIND REF]: a field of the export queue row (incident 1 by default)
row() { status_json "$2" | jq -r --arg k "${3:-incident}" --arg r "${4:-1}" \
	'.[] | select(.kind == $k and .ref == $r) | .'"$1"' // empty'; }

# 1. Settings: checked before anything runs, exit status 2 naming the variable.
run_cfg() { # NAME: runs `ringcap run -r DEMO' with the current environment, output in $WORK/NAME.*
	"$RINGCAP" run -q -r "$DEMO" -o "$WORK/cfg" >"$WORK/$1.out" 2>"$WORK/$1.err"
}
S3_EXPORT=everything run_cfg bad-mode
check cfg-bad-mode-exit-2 test $? = 2
check cfg-bad-mode-names-variable grep -q "S3_EXPORT \`everything'" "$WORK/bad-mode.err"
S3_EXPORT=incidents run_cfg no-endpoint
check cfg-no-endpoint-exit-2 test $? = 2
check cfg-no-endpoint-names-variable grep -q "S3_ENDPOINT is not set" "$WORK/no-endpoint.err"
export S3_ENDPOINT=http://127.0.0.1:9 S3_BUCKET=ringcap-export
S3_EXPORT=incidents S3_ACCESS_KEY=AK S3_SECRET_KEY=SECRETVALUE1 S3_MULTIPART_SIZE=4 run_cfg small-parts
check cfg-multipart-under-5-exit-2 test $? = 2
check cfg-multipart-names-variable grep -q "S3_MULTIPART_SIZE \`4'" "$WORK/small-parts.err"
S3_EXPORT=incidents S3_ACCESS_KEY=AK S3_SECRET_KEY=SECRETVALUE1 RINGCAP_AGENT='a/b' run_cfg bad-agent
check cfg-bad-agent-exit-2 test $? = 2
check cfg-bad-agent-names-variable grep -q "RINGCAP_AGENT \`a/b'" "$WORK/bad-agent.err"
S3_EXPORT=incidents S3_ACCESS_KEY=AK S3_SECRET_KEY=SECRETVALUE1 S3_BUCKET=Bad_Bucket run_cfg bad-bucket
check cfg-bad-bucket-exit-2 test $? = 2
check cfg-bad-bucket-names-variable grep -q "S3_BUCKET" "$WORK/bad-bucket.err"
printf 'access_key = AK\nsecret_key = SECRETVALUE2\n' >"$WORK/creds"
chmod 644 "$WORK/creds"
S3_EXPORT=incidents S3_CREDENTIALS_FILE=$WORK/creds run_cfg creds-644
check cfg-creds-readable-refused test $? = 2
check cfg-creds-readable-names-file grep -q "S3_CREDENTIALS_FILE \`$WORK/creds' has mode 0644" "$WORK/creds-644.err"
chmod 600 "$WORK/creds"
ln -sf "$WORK/creds" "$WORK/creds-link"
S3_EXPORT=incidents S3_CREDENTIALS_FILE=$WORK/creds-link run_cfg creds-link
check cfg-creds-symlink-refused test $? = 2
check cfg-creds-symlink-says-so grep -q "symbolic link" "$WORK/creds-link.err"
S3_EXPORT=incidents S3_CREDENTIALS_FILE=$WORK/creds S3_SECRET_KEY=SECRETVALUE1 run_cfg creds-both
check cfg-creds-and-key-refused test $? = 2
printf 'access_key = AK\nsecret_key = SECRETVALUE2\nregion = x\n' >"$WORK/creds-bad"
chmod 600 "$WORK/creds-bad"
S3_EXPORT=incidents S3_CREDENTIALS_FILE=$WORK/creds-bad run_cfg creds-bad
check cfg-creds-unknown-key-line grep -q "creds-bad:3: unknown key" "$WORK/creds-bad.err"
check cfg-secrets-never-printed bash -c "! grep -q SECRETVALUE $WORK/*.err $WORK/*.out"
check cfg-nothing-written test ! -e "$WORK/cfg/index.db"
unset S3_ENDPOINT S3_BUCKET

if ! need_root; then
	skip gateway "not root; ceph-rgw.sh needs root (CI runs as root)"
	finish
fi

AGENT=
rgw_stop_hook() { # the feeder's fd and an agent left running go first
	exec 8>&-
	[[ -n $AGENT ]] && kill "$AGENT" 2>/dev/null
	return 0
}
rgw_up || finish
export S3_BUCKET=ringcap-export S3_PREFIX=e2e S3_REGION=us-east-1
SECRET=$S3_SECRET_KEY

AWS=$(command -v /usr/bin/aws || command -v aws || true)
check awscli-available test -n "$AWS"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$WORK/aws.config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws.credentials
aws_() { "${AWS:-false}" --endpoint-url "$S3_ENDPOINT" "$@"; }
aws_get() { aws_ s3 cp "s3://$S3_BUCKET/$1" "$2" --only-show-errors; }
keys_under() { aws_ s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$1" --query 'Contents[].Key' \
	--output text 2>/dev/null | tr '\t' '\n' | grep -v '^None$' | sort; }
open_uploads() { aws_ s3api list-multipart-uploads --bucket "$S3_BUCKET" --query 'Uploads[].Key' \
	--output text 2>/dev/null | grep -v '^None$'; }
K=e2e/agent-e2e/incidents

# 2. An incident exported by `run -r' (keys from a 0600 credentials file; the bucket does not
#    exist yet and is created), read back with awscli, byte for byte.
printf '# test keys\naccess_key = %s\nsecret_key = %s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$WORK/creds.ok"
chmod 600 "$WORK/creds.ok"
D=$WORK/plain
env -u S3_ACCESS_KEY -u S3_SECRET_KEY S3_CREDENTIALS_FILE="$WORK/creds.ok" S3_EXPORT=incidents \
	"$RINGCAP" run -r "$DEMO" -o "$D" >"$WORK/plain.out" 2>"$WORK/plain.err"
check plain-run-ok test $? = 0
check plain-one-incident test "$(ids "$D")" = 1
check plain-summary-line grep -q "exported to S3        1 uploaded, 0 to retry, 0 failed -> s3://$S3_BUCKET/e2e/agent-e2e/" "$WORK/plain.out"
check plain-bucket-created grep -q "created bucket \`$S3_BUCKET'" "$WORK/plain.err"
check plain-row-done test "$(row state "$D")" = done
check plain-row-key test "$(row object_key "$D")" = "$K/1.pcap"
check plain-local-capture quiet "$RINGCAP" incident pcap 1 -o "$D" -w "$WORK/plain.local.pcap"
check plain-awscli-cp aws_get "$K/1.pcap" "$WORK/plain.s3.pcap"
check plain-byte-for-byte cmp "$WORK/plain.local.pcap" "$WORK/plain.s3.pcap"
aws_ s3api head-object --bucket "$S3_BUCKET" --key "$K/1.pcap" >"$WORK/plain.head" 2>&1
ETAG=$(jq -r .ETag "$WORK/plain.head" | tr -d '"')
check plain-etag-is-md5 test "$ETAG" = "$(md5sum <"$WORK/plain.local.pcap" | cut -d' ' -f1)"
check plain-content-type test "$(jq -r .ContentType "$WORK/plain.head")" = application/vnd.tcpdump.pcap
SHA=$(sha256sum <"$WORK/plain.local.pcap" | cut -d' ' -f1)
check plain-meta-sha256 test "$(jq -r '.Metadata["ringcap-sha256"]' "$WORK/plain.head")" = "$SHA"
# the metadata JSON next to the capture
check plain-json-cp aws_get "$K/1.json" "$WORK/plain.s3.json"
check plain-json-id test "$(jq -r .id "$WORK/plain.s3.json")" = 1
check plain-json-classification test "$(jq -r .classification "$WORK/plain.s3.json")" = "$(jq -r .classification "$D/incidents/1.json")"
check plain-json-export-key test "$(jq -r .export.object_key "$WORK/plain.s3.json")" = "$K/1.pcap"
check plain-json-export-sha256 test "$(jq -r .export.sha256 "$WORK/plain.s3.json")" = "$SHA"
# ID.json's storage.export, written by the store's worker
check plain-idjson-done test "$(jq -r .storage.export.state "$D/incidents/1.json")" = done
check plain-idjson-key test "$(jq -r .storage.export.object_key "$D/incidents/1.json")" = "$K/1.pcap"
check plain-idjson-etag test "$(jq -r .storage.export.etag "$D/incidents/1.json")" = "$ETAG"
check plain-idjson-time test "$(jq -r '.storage.export.exported_at | test("^20..-..-..T")' "$D/incidents/1.json")" = true
# the audit trail
jq -c 'select(.event == "export_done")' "$D/audit/audit.jsonl" >"$WORK/plain.audit"
check plain-audit-export-done test "$(wc -l <"$WORK/plain.audit")" = 1
check plain-audit-fields test "$(jq -r '[.incident, .key, .etag, .size, .sha256] | map(tostring) | join(" ")' "$WORK/plain.audit")" = "1 $K/1.pcap $ETAG $(stat -c %s "$WORK/plain.local.pcap") $SHA"
check plain-audit-verifies quiet "$RINGCAP" audit verify -o "$D"
check plain-status-text grep -q "1 in the queue: 0 queued, 0 uploading, 1 done, 0 failed" <("$RINGCAP" export --status -o "$D")
"$RINGCAP" export 1 -o "$D" --json >"$WORK/plain.again" 2>&1
check plain-export-again-says-done grep -q '"note":"exported already' "$WORK/plain.again"

# 3. Encrypted: the vault's sealed file, as it is.
D=$WORK/enc
S3_EXPORT=incidents S3_EXPORT_ENCRYPTED=true "$RINGCAP" run -q -r "$DEMO" -o "$D" >/dev/null 2>"$WORK/enc.err"
check enc-run-ok test $? = 0
check enc-row-key test "$(row object_key "$D")" = "$K/1.pcap.enc"
check enc-awscli-cp aws_get "$K/1.pcap.enc" "$WORK/enc.s3"
check enc-byte-for-byte cmp "$D/incidents/1.pcap.enc" "$WORK/enc.s3"
check enc-json-says-encrypted test "$(aws_ s3 cp "s3://$S3_BUCKET/$K/1.json" - 2>/dev/null | jq -r .export.encrypted)" = true

# 4. A presigned URL from `ringcap url --s3': plain curl reads the object; a changed character
#    or an expired URL is refused with 403.
http_code() { curl -s -o "$2" -w '%{http_code}' "$1"; }
"$RINGCAP" url 1 --s3 -o "$WORK/plain" --json >"$WORK/url.json" 2>"$WORK/url.err"
check url-s3-ok test $? = 0
URL=$(jq -r .url "$WORK/url.json")
check url-s3-15-minutes test "$(jq -r .expires_in "$WORK/url.json")" = 900
check url-s3-presigned grep -q "X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=" <<<"$URL"
check url-s3-curl-200 test "$(http_code "$URL" "$WORK/url.body")" = 200
check url-s3-curl-same cmp "$WORK/plain.local.pcap" "$WORK/url.body"
last=${URL: -1}
[[ $last == 0 ]] && swap=1 || swap=0
check url-s3-changed-403 test "$(http_code "${URL%?}$swap" "$WORK/url.changed")" = 403
check url-s3-changed-names-code grep -q SignatureDoesNotMatch "$WORK/url.changed"
# (X-Amz-Date has whole seconds, so a TTL of S seconds may leave only S-1: 5 s, for slow builds)
"$RINGCAP" url 1 --s3 -o "$WORK/plain" --ttl 5 >"$WORK/url-short.out" 2>&1
SHORT=$(head -n 1 "$WORK/url-short.out")
check url-s3-short-works test "$(http_code "$SHORT" "$WORK/url.short")" = 200
sleep 6
check url-s3-expired-403 test "$(http_code "$SHORT" "$WORK/url.expired")" = 403
check url-s3-audited grep -q '"event":"s3_url_issued"' "$WORK/plain/audit/audit.jsonl"
"$RINGCAP" url 1 --s3 -o "$WORK/enc" >/dev/null 2>"$WORK/url-nodir.err"
check url-s3-enc-ok test $? = 0

# 5. A wrong secret key: a clear error naming SignatureDoesNotMatch, the export stays queued;
#    `ringcap export 1' with the right key completes it.
D=$WORK/wrong
export S3_PREFIX=wrong
K=wrong/agent-e2e/incidents
S3_SECRET_KEY="x$SECRET" S3_EXPORT=incidents "$RINGCAP" run -q -r "$DEMO" -o "$D" >/dev/null 2>"$WORK/wrong.err"
check wrong-run-ok test $? = 0
sed 's/^/  /' "$WORK/wrong.err"
check wrong-names-code grep -q "HTTP 403 SignatureDoesNotMatch" "$WORK/wrong.err"
check wrong-stays-queued test "$(row state "$D")" = queued
check wrong-status-error grep -q SignatureDoesNotMatch <(row last_error "$D")
check wrong-status-text grep -q "1 queued, 0 uploading, 0 done, 0 failed" <("$RINGCAP" export --status -o "$D")
check wrong-idjson-queued test "$(jq -r .storage.export.state "$D/incidents/1.json")" = queued
check wrong-audit-retry grep -q '"event":"export_retry"' "$D/audit/audit.jsonl"
check wrong-nothing-stored test -z "$(keys_under wrong/)"
check wrong-secret-never-printed bash -c "! grep -qF -- '$SECRET' $WORK/wrong.err"
"$RINGCAP" export 1 -o "$D" >"$WORK/wrong-fix.out" 2>"$WORK/wrong-fix.err"
check export-now-ok test $? = 0
check export-now-prints-key grep -q "^  key     $K/1.pcap$" "$WORK/wrong-fix.out"
check export-now-prints-etag grep -q "^  etag    $ETAG$" "$WORK/wrong-fix.out"
check export-now-prints-size grep -q "^  size    $(stat -c %s "$WORK/plain.local.pcap")$" "$WORK/wrong-fix.out"
check export-now-row-done test "$(row state "$D")" = done
check export-now-two-attempts test "$(row attempts "$D")" = 2
check export-now-idjson-done test "$(jq -r .storage.export.state "$D/incidents/1.json")" = done
check export-now-audit-done grep -q '"event":"export_done"' "$D/audit/audit.jsonl"
S3_SECRET_KEY="x$SECRET" "$RINGCAP" export 1 -o "$D" --force >/dev/null 2>"$WORK/wrong-force.err"
check export-force-wrong-key-fails test $? = 1
check export-force-names-code grep -q SignatureDoesNotMatch "$WORK/wrong-force.err"
check export-force-says-queued grep -q "stays queued" "$WORK/wrong-force.err"
"$RINGCAP" export 7 -o "$D" >/dev/null 2>"$WORK/no-incident.err"
check export-no-such-incident test $? = 1
export S3_PREFIX=e2e

# 6. Multipart: a 7 MB capture in 5 MiB parts.
"$TOOLS/mkflood" -o "$WORK/big.pcap" quiet:200:100 dnsamp:6000:20000 quiet:300:100 >/dev/null
BIGOPTS=(--threshold-udp-pps 5000 --resolve-seconds 1 --incident-max-packets 50000)
D=$WORK/multi
S3_EXPORT=incidents S3_MULTIPART_SIZE=5 S3_PREFIX=multi "$RINGCAP" run -q -r "$WORK/big.pcap" -o "$D" \
	"${BIGOPTS[@]}" >/dev/null 2>"$WORK/multi.err"
check multi-run-ok test $? = 0
[[ $(row etag "$D") =~ ^[0-9a-f]{32}-2$ ]]
check multi-two-parts test $? = 0
check multi-local quiet "$RINGCAP" incident pcap 1 -o "$D" -w "$WORK/multi.local.pcap"
check multi-over-5MiB test "$(stat -c %s "$WORK/multi.local.pcap")" -gt 5242880
check multi-awscli-cp aws_get multi/agent-e2e/incidents/1.pcap "$WORK/multi.s3.pcap"
check multi-byte-for-byte cmp "$WORK/multi.local.pcap" "$WORK/multi.s3.pcap"
check multi-etag-stored test "$(aws_ s3api head-object --bucket "$S3_BUCKET" --key multi/agent-e2e/incidents/1.pcap \
	--query ETag --output text 2>/dev/null)" = "\"$(row etag "$D")\""

# 7. The gateway stops in the middle of a throttled multipart export and starts again: the agent
#    (kept running by a feeder that holds its stdin open) retries, aborts the upload left open and
#    ends with one complete object.
D=$WORK/stop
mkfifo "$WORK/feed"
S3_EXPORT=incidents S3_MULTIPART_SIZE=5 S3_MAX_SEND_RATE=2000000 S3_PREFIX=stop \
	"$RINGCAP" run -r - -o "$D" "${BIGOPTS[@]}" <"$WORK/feed" >"$WORK/stop.out" 2>"$WORK/stop.err" 9>&- &
AGENT=$!
exec 8>"$WORK/feed"
cat "$WORK/big.pcap" >&8
for _ in $(seq 100); do [[ $(row state "$D") == uploading ]] && break; sleep 0.1; done
check stop-upload-started test "$(row state "$D")" = uploading
sleep 1.5
RGWPID=$(cat "$WORK/rgw/run/client.rgw.a.pid")
kill "$RGWPID"
for _ in $(seq 200); do ours "$RGWPID" || break; sleep 0.1; done
check stop-gateway-stopped bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null"
sleep 3
radosgw -c "$WORK/rgw/ceph.conf" -n client.rgw.a 8>&- 9>&- # no fd of ours in a daemon
for _ in $(seq 100); do curl -s -o /dev/null "$S3_ENDPOINT/" && break; sleep 0.2; done
RGW_PIDS+=("$(cat "$WORK/rgw/run/client.rgw.a.pid")")
for _ in $(seq 180); do [[ $(row state "$D") == done ]] && break; sleep 0.25; done
check stop-export-done test "$(row state "$D")" = done
exec 8>&- # end of the input: the agent finishes
wait "$AGENT"
check stop-agent-exit-0 test $? = 0
AGENT=
check stop-agent-summary test "$(sed -n 's/^  exported to S3 *\([0-9]*\) uploaded.*/\1/p' "$WORK/stop.out")" = 1
grep -E "export:" "$WORK/stop.err" | sed 's/^/  /'
check stop-first-attempt-failed grep -qE "attempt 1 failed: .*(connection|UploadPart)" "$WORK/stop.err"
check stop-retry-audited grep -q '"event":"export_retry"' "$D/audit/audit.jsonl"
check stop-done-audited grep -q '"event":"export_done"' "$D/audit/audit.jsonl"
check stop-one-object test "$(keys_under stop/)" = "$(printf 'stop/agent-e2e/incidents/1.json\nstop/agent-e2e/incidents/1.pcap')"
check stop-no-upload-left-open test -z "$(open_uploads)"
check stop-local quiet "$RINGCAP" incident pcap 1 -o "$D" -w "$WORK/stop.local.pcap"
check stop-awscli-cp aws_get stop/agent-e2e/incidents/1.pcap "$WORK/stop.s3.pcap"
check stop-complete-and-same cmp "$WORK/stop.local.pcap" "$WORK/stop.s3.pcap"

# 8. incidents+pcaps: the continuous files too, each byte for byte.
D=$WORK/pcaps
S3_EXPORT=incidents+pcaps S3_PREFIX=pcaps "$RINGCAP" run -q -r "$DEMO" -o "$D" -C 0.2 >/dev/null 2>"$WORK/pcaps.err"
check pcaps-run-ok test $? = 0
n=0 same=0
for f in "$D"/pcaps/capture_*.pcap; do
	n=$((n + 1))
	b=$(basename "$f")
	aws_get "pcaps/agent-e2e/pcaps/$b" "$WORK/pcaps.$b" && cmp -s "$f" "$WORK/pcaps.$b" && same=$((same + 1))
done
check pcaps-several-files test "$n" -ge 3
check pcaps-all-shipped-same test "$same" = "$n"
check pcaps-rows-done test "$(status_json "$D" | jq '[.[] | select(.kind == "pcap" and .state == "done")] | length')" = "$n"
check pcaps-incident-too test "$(row state "$D")" = done

check secret-never-written bash -c "! grep -lF -- '$SECRET' $WORK/*.err $WORK/*.out $WORK/*.json $WORK/*/audit/audit.jsonl $WORK/*/incidents/*.json"
cat "$WORK"/*.err >"$WORK/all-stderr.txt" 2>/dev/null
check sanitizer-clean sanitizer_clean "$WORK/all-stderr.txt"
finish
