#!/bin/bash
# Checks that every file under src/ includes only headers of the layers its own layer may reach
# (README "Source code layout"). Layers, each listed with what it may include besides itself:
#   base       nothing            log, config, clock, files, dynamic libraries
#   capture    base               sources, capture-file reader, decoder
#   outputs    base capture       continuous pcap files, pcap/pcapng writers, flow records
#   recorder   ... outputs        ring, detector, incidents, top talkers
#   pipeline   ... recorder       the packet path that feeds them all
#   vault      base capture outputs recorder   sealed store, keys, index, audit, tokens, URLs
#   export     ... vault          S3 client and export worker
#   api        ... export, pipeline             HTTP API, control socket, console
#   analyze    base capture outputs            offline analysis
#   cmd        everything         one file per subcommand; main.c only includes base/, capture/ (the version line) and cmd/
# Nothing includes cmd/ except cmd/ and main.c. Prints each violation as FILE:LINE and exits 1.
#   scripts/check-layers.sh [SRCDIR]   (default: src)
set -uo pipefail
src=${1:-src}
declare -A allow=(
	[base]="base"
	[capture]="base capture"
	[outputs]="base capture outputs"
	[recorder]="base capture outputs recorder"
	[pipeline]="base capture outputs recorder pipeline"
	[vault]="base capture outputs recorder vault"
	[export]="base capture outputs recorder vault export"
	[api]="base capture outputs recorder pipeline vault export api"
	[analyze]="base capture outputs analyze"
	[cmd]="base capture outputs recorder pipeline vault export api analyze cmd"
	[main]="base capture cmd"
)
bad=0 n=0
while IFS= read -r f; do
	rel=${f#"$src"/}
	if [[ $rel == */* ]]; then layer=${rel%%/*}; else layer=main; fi
	if [[ -z ${allow[$layer]+x} ]]; then
		echo "$f: folder \`$layer' is not a known layer (add it to scripts/check-layers.sh)"
		bad=1
		continue
	fi
	n=$((n + 1))
	while IFS=: read -r line inc; do
		dep=${inc%%/*}
		if [[ $inc != */* ]]; then
			echo "$f:$line: #include \"$inc\" names no layer (write \"LAYER/$inc\")"
			bad=1
		elif [[ " ${allow[$layer]} " != *" $dep "* ]]; then
			echo "$f:$line: layer $layer must not include \"$inc\" (it may reach: ${allow[$layer]})"
			bad=1
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		 sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done < <(find "$src" -name '*.[ch]' | sort)
if ((n == 0)); then echo "check-layers: no source files under $src"; exit 1; fi
exit $bad
