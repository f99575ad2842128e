#!/bin/bash
# Installs what ringcap needs to build, run and test on Debian 12, as root. Quick when everything
# is already there: it asks dpkg first and calls apt-get only for what is missing.
#   scripts/deps.sh          build and run dependencies
#   scripts/deps.sh --test   also the tools the test suite and the benchmarks use
set -euo pipefail
pkgs=(gcc libc6-dev make pkg-config libpcap-dev libjansson-dev libssl-dev libsqlite3-dev
      libmicrohttpd-dev libcurl4-openssl-dev)
if [[ ${1:-} == --test ]]; then
	pkgs+=(socat tcpdump tshark wireshark-common tcpreplay softflowd jq iproute2 procps util-linux time bc curl wget awscli
	       libc6-dev openssl python3 python3-yaml rsyslog help2man debhelper dpkg-dev fakeroot lintian man-db git)
	# the browser test runs playwright-core (tests/browser, node >= 18) on Debian's nodejs 18,
	# unless a node and npm are there already (a newer nodejs from elsewhere is left alone)
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		pkgs+=(nodejs npm)
	fi
fi
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	if [[ $(id -u) != 0 ]]; then
		echo "deps.sh: missing packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
		exit 1
	fi
	echo "deps.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
