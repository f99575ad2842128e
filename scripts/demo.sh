#!/bin/bash
# The README's first command: installs what ringcap needs, builds it, and runs the main job on the
# capture shipped in the repository, as if it were live traffic. Outputs go to ./output.
#   scripts/demo.sh [FILE]    (default: tests/data/zeek-http-bro.org.pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -s -j"$(nproc 2>/dev/null || echo 2)" build/ringcap
in=${1:-tests/data/zeek-http-bro.org.pcap}
build/ringcap run -r "$in" -o ./output
if [[ -z ${1:-} ]]; then
	# the flight recorder: a synthetic SYN flood between quiet traffic (made by tests/tools/mkflood)
	echo
	build/ringcap run -q -r tests/data/demo-synflood.pcap -o ./output --resolve-seconds 2
	echo
	echo "Incidents (ringcap incidents -o ./output):"
	build/ringcap incidents -o ./output | sed 's/^/  /'
	echo "  metadata: $PWD/output/incidents/*.json   captures (AES-256-GCM): $PWD/output/incidents/*.pcap.enc"
	echo "  decrypt one: build/ringcap incident pcap 1 -o ./output -w incident-1.pcap"
fi
echo
echo "Continuous PCAP files: $PWD/output/pcaps/"
ls -l output/pcaps | sed 's/^/  /'
echo "Flow records (one JSON object per line): $PWD/output/traffic_flows.jsonb"
head -n 2 output/traffic_flows.jsonb | sed 's/^/  /'
