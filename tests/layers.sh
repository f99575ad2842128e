#!/bin/bash
# scripts/check-layers.sh passes on src/ and fails on copies of it with a planted violation.
set -uo pipefail
cd "$(dirname "$0")/.."
T=layers; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok() { echo "PASS lint/layers/$1"; }
ko() { echo "FAIL lint/layers/$1${2:+: $2}"; }
if scripts/check-layers.sh src >"$tmp/out" 2>&1; then ok src; else ko src "$(head -n 5 "$tmp/out")"; fi
plant() { # name file line-to-add expected-message-part
	rm -rf "$tmp/src"; cp -r src "$tmp/src"
	sed -i "1i $3" "$tmp/src/$2"
	if scripts/check-layers.sh "$tmp/src" >"$tmp/out" 2>&1; then ko "$1" "not caught: $3 in $2"
	elif grep -qF "$tmp/src/$2:1: $4" "$tmp/out"; then ok "$1"
	else ko "$1" "message: $(head -n 1 "$tmp/out")"; fi
}
plant recorder-to-vault recorder/incident.c '#include "vault/store.h"' 'layer recorder must not include "vault/store.h"'
plant capture-to-api capture/decode.c '#include "api/httpd.h"' 'layer capture must not include "api/httpd.h"'
plant outputs-to-export outputs/flow.h '#include "export/export.h"' 'layer outputs must not include "export/export.h"'
plant vault-to-cmd vault/db.c '#include "cmd/cmd.h"' 'layer vault must not include "cmd/cmd.h"'
plant no-layer base/log.c '#include "store.h"' '#include "store.h" names no layer'
