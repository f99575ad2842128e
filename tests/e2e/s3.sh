#!/bin/bash
# The S3 client (src/s3.c, through tests/tools/s3tool) against a real Ceph RADOS Gateway on
# loopback started by ../shared/tools/ceph-rgw.sh: bucket creation (twice), a small object with an
# awkward key read back byte for byte with a presigned URL and plain curl, with s3tool and with
# awscli; the metadata JSON; a multipart upload (12 MB in 5 MiB parts) checked the same way; a
# presigned URL refused once a character changes and once it expires; clear errors for a wrong
# secret key, a wrong access key, a missing bucket or key; and the gateway stopped in the middle
# of an upload. Needs root (CI is root); the gateway is always stopped at the end.
. "$(dirname "$0")/lib.sh"
S3T=$TOOLS/s3tool
if ! need_root; then
	skip gateway "not root; ceph-rgw.sh needs root to start the gateway (CI runs as root)"
	finish
fi

rgw_up || finish
export S3_BUCKET=ringcap-e2e S3_REGION=us-east-1
unset S3_MULTIPART_SIZE S3_PART_SIZE S3_MAX_SEND_RATE S3_ADDRESSING S3_PART_RETRIES
field() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"; }
http_code() { curl -s -o "$2" -w '%{http_code}' "$1"; }
s3() { # s3 NAME ARGS...: runs s3tool with stdout in $WORK/NAME.out and stderr in $WORK/NAME.err
	local name=$1
	shift
	"$S3T" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}

# 1. The bucket, created if missing; a second time is fine.
check bucket-create s3 mb1 bucket
check bucket-create-again s3 mb2 bucket

# 2. A small object under a key that needs encoding, read back three ways.
KEY='captures/a b+c$d=é~(1).pcap'
head -c 100000 /dev/urandom >"$WORK/small.bin"
check small-put s3 small-put put "$WORK/small.bin" "$KEY" application/vnd.tcpdump.pcap
O=$WORK/small-put.out
check small-size test "$(field "$O" size)" = 100000
check small-single-put test "$(field "$O" parts)" = 0
check small-etag-is-md5 test "$(field "$O" etag)" = "$(md5sum <"$WORK/small.bin" | cut -d' ' -f1)"
check small-sha256 test "$(field "$O" sha256)" = "$(sha256sum <"$WORK/small.bin" | cut -d' ' -f1)"
s3 small-head head "$KEY"
check small-head test "$(cat "$WORK/small-head.out")" = "size=100000 etag=$(field "$O" etag)"
s3 small-presign presign "$KEY" 300
URL=$(cat "$WORK/small-presign.out")
check presign-is-path-style grep -q "^$S3_ENDPOINT/$S3_BUCKET/captures/a%20b%2Bc%24d%3D%C3%A9~%281%29.pcap?X-Amz-Algorithm=AWS4-HMAC-SHA256&" "$WORK/small-presign.out"
check small-curl-200 test "$(http_code "$URL" "$WORK/small.curl")" = 200
check small-curl-same cmp "$WORK/small.bin" "$WORK/small.curl"
check small-s3tool-get s3 small-get get "$KEY" "$WORK/small.get"
check small-s3tool-same cmp "$WORK/small.bin" "$WORK/small.get"

# awscli: an independent client reads what ours wrote (Debian's package if the tool is missing)
AWS=$(command -v /usr/bin/aws || command -v aws || true)
if [[ -z $AWS ]]; then
	echo "  installing Debian's awscli"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq \
		--no-install-recommends awscli; } >"$WORK/apt.log" 2>&1
	AWS=$(command -v aws || true)
fi
check awscli-available test -n "$AWS"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$WORK/aws.config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws.credentials
aws_() { "${AWS:-false}" --endpoint-url "$S3_ENDPOINT" "$@"; }
check small-awscli-cp aws_ s3 cp "s3://$S3_BUCKET/$KEY" "$WORK/small.aws" --only-show-errors
check small-awscli-same cmp "$WORK/small.bin" "$WORK/small.aws"

# 3. The metadata JSON next to a capture, from memory.
JSON='{"id":1,"state":"resolved","note":"a \"quoted\" é"}'
check json-put s3 json-put put-text captures/1.json "$JSON"
s3 json-presign presign captures/1.json 60
check json-curl-same test "$(curl -s "$(cat "$WORK/json-presign.out")")" = "$JSON"
check json-content-type test "$(aws_ s3api head-object --bucket "$S3_BUCKET" --key captures/1.json \
	--query ContentType --output text 2>/dev/null)" = application/json

# 4. Multipart: 12 MB in 5 MiB parts (S3's minimum for every part but the last).
head -c 12000007 /dev/urandom >"$WORK/big.bin"
S3_MULTIPART_SIZE=5M check multipart-put s3 big-put put "$WORK/big.bin" big/capture.pcap
O=$WORK/big-put.out
cat "$O" "$WORK/big-put.err" | sed 's/^/  /'
check multipart-three-parts test "$(field "$O" parts)" = 3
check multipart-size test "$(field "$O" size)" = 12000007
[[ $(field "$O" etag) =~ ^[0-9a-f]{32}-3$ ]]
check multipart-etag-md5-of-md5s test $? = 0
check multipart-sha256 test "$(field "$O" sha256)" = "$(sha256sum <"$WORK/big.bin" | cut -d' ' -f1)"
check multipart-etag-stored test "$(aws_ s3api head-object --bucket "$S3_BUCKET" --key big/capture.pcap \
	--query ETag --output text 2>/dev/null)" = "\"$(field "$O" etag)\""
s3 big-presign presign big/capture.pcap 300
check multipart-curl-200 test "$(http_code "$(cat "$WORK/big-presign.out")" "$WORK/big.curl")" = 200
check multipart-curl-same cmp "$WORK/big.bin" "$WORK/big.curl"
check multipart-awscli-cp aws_ s3 cp "s3://$S3_BUCKET/big/capture.pcap" "$WORK/big.aws" --only-show-errors
check multipart-awscli-same cmp "$WORK/big.bin" "$WORK/big.aws"
check multipart-none-left-open test -z "$(aws_ s3api list-multipart-uploads --bucket "$S3_BUCKET" \
	--query 'Uploads[].Key' --output text 2>/dev/null | grep -v '^None$')"

# 5. A presigned URL is refused once a character changes, and once it expires.
last=${URL: -1}
[[ $last == 0 ]] && swap=1 || swap=0
check presign-changed-signature-403 test "$(http_code "${URL%?}$swap" "$WORK/changed.body")" = 403
check presign-changed-names-code grep -q SignatureDoesNotMatch "$WORK/changed.body"
other=${URL/a%20b/a%20c}
check presign-changed-key-403 test "$(http_code "$other" "$WORK/changed-key.body")" = 403
longer=${URL/X-Amz-Expires=300/X-Amz-Expires=301}
check presign-changed-expiry-403 test "$(http_code "$longer" "$WORK/changed-exp.body")" = 403
s3 short-presign presign "$KEY" 4
SHORT=$(cat "$WORK/short-presign.out")
check presign-4s-works-at-once test "$(http_code "$SHORT" "$WORK/short.body")" = 200
sleep 5
check presign-expired-403 test "$(http_code "$SHORT" "$WORK/expired.body")" = 403

# 6. Clear errors.
S3_SECRET_KEY="x$S3_SECRET_KEY" s3 wrong-secret put "$WORK/small.bin" wrong/secret.pcap
check wrong-secret-fails test $? = 1
cat "$WORK/wrong-secret.err" | sed 's/^/  /'
check wrong-secret-names-code grep -q "HTTP 403 SignatureDoesNotMatch" "$WORK/wrong-secret.err"
check wrong-secret-is-auth grep -q "(auth)" "$WORK/wrong-secret.err"
S3_ACCESS_KEY=AKIDNOSUCHKEY s3 wrong-access put "$WORK/small.bin" wrong/access.pcap
check wrong-access-names-code grep -q "HTTP 403 InvalidAccessKeyId" "$WORK/wrong-access.err"
S3_BUCKET=no-such-bucket-here s3 no-bucket put "$WORK/small.bin" x.pcap
check no-bucket-names-code grep -q "HTTP 404 NoSuchBucket" "$WORK/no-bucket.err"
s3 no-key head nothing/here.pcap
check no-key-not-found grep -q "(not found)" "$WORK/no-key.err"
check nothing-stored-with-bad-keys bash -c "! \"$S3T\" head wrong/secret.pcap 2>/dev/null"

# 7. The gateway stops in the middle of a multipart upload (40 MB at 4 MB/s).
head -c 40000000 /dev/urandom >"$WORK/mid.bin"
S3_MULTIPART_SIZE=5M S3_MAX_SEND_RATE=4M s3 mid put "$WORK/mid.bin" mid/capture.pcap &
upid=$!
sleep 3
check upload-still-running kill -0 "$upid"
rgw_stop
wait "$upid"
check stopped-gateway-fails test $? = 1
cat "$WORK/mid.err" | sed 's/^/  /'
check stopped-gateway-connection-error grep -qE "(connection to|connection refused to) $S3_ENDPOINT" "$WORK/mid.err"
check stopped-gateway-names-part grep -q "UploadPart" "$WORK/mid.err"
check stopped-gateway-is-network grep -q "(network)" "$WORK/mid.err"
s3 after-stop head mid/capture.pcap
check after-stop-connection-refused grep -q "connection refused to $S3_ENDPOINT" "$WORK/after-stop.err"

cat "$WORK"/*.err >"$WORK/all-stderr.txt" 2>/dev/null
check sanitizer-clean sanitizer_clean "$WORK/all-stderr.txt"
finish
