#!/bin/bash
# The container (Dockerfile, compose.yaml; README "Deploying"): built with podman from the local
# Debian base image, run with host networking, only NET_RAW and NET_ADMIN, as its non-root user,
# capturing on a veth from inside the container into a volume: continuous files, flow records and
# a sealed incident land on the volume, owned by the container's user; the healthcheck passes.
. "$(dirname "$0")/lib.sh"
need_root || { fail needs-root "run the suite as root"; finish; }
VETH=$ROOT/../shared/tools/vethpair.sh
PODMAN_BASE=$ROOT/../shared/tools/podman-base.sh
NSN=rct$$; NSN=${NSN:0:10}
NAME=ringcap-test-$$
IMG=localhost/ringcap-test:$$
cleanup() {
	podman rm -f "$NAME" >/dev/null 2>&1
	podman rmi -f "$IMG" >/dev/null 2>&1
	"$VETH" down "$NSN" >/dev/null 2>&1
}
trap cleanup EXIT
wait_for() { local i; for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

check compose-parses python3 -c "
import sys, yaml
c = yaml.safe_load(open('$ROOT/compose.yaml'))['services']['ringcap']
assert c['network_mode'] == 'host', c
assert sorted(c['cap_add']) == ['NET_ADMIN', 'NET_RAW'] and c['cap_drop'] == ['ALL'], c
assert not c['user'].startswith('0'), c
e = c['environment']
assert e['SAVE_PCAP'] == 'true' and e['PCAP_ROTATION_SIZE'] == '100' and e['PCAP_RETENTION_COUNT'] == '10', e
assert any(v.endswith(':/var/lib/ringcap') for v in c['volumes']), c
assert 'healthcheck' in c
"
if ! "$PODMAN_BASE" image >"$WORK/podman-base.txt" 2>&1; then
	fail container-base-image "$(tail -n 3 "$WORK/podman-base.txt")"
	finish
fi
eval "$("$PODMAN_BASE" env)"
timeout 900 podman build --format docker --network host --build-arg BASE=localhost/debian:bookworm \
	-t "$IMG" -f "$ROOT/Dockerfile" "$ROOT" >"$WORK/build.log" 2>&1
check image-builds test $? = 0
check image-user test "$(podman image inspect -f '{{.Config.User}}' "$IMG" 2>/dev/null)" = ringcap
check image-healthcheck test -n "$(podman image inspect -f '{{.Config.Healthcheck}}' "$IMG" 2>/dev/null | grep curl)"

eval "$("$VETH" up "$NSN")" || { fail veth-up; finish; }
sysctl -qw "net.ipv6.conf.$CAP.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$SND.disable_ipv6=1"
VOL=$WORK/vol
mkdir -p "$VOL"; chown 10640:10640 "$VOL"; chmod 0750 "$VOL"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
podman run -d --name "$NAME" --network host --cap-drop ALL --cap-add NET_RAW,NET_ADMIN \
	-e RINGCAP_INTERFACE="$CAP" -e RINGCAP_HTTP="127.0.0.1:$PORT" -e THRESHOLD_SYN_PPS=2000 \
	-e RESOLVE_SECONDS=2 -v "$VOL:/var/lib/ringcap" "$IMG" >"$WORK/run.txt" 2>&1
check container-starts test $? = 0
logs() { podman logs "$NAME" >"$WORK/logs.txt" 2>&1; }
for ((i = 0; i < 100; i++)); do logs; grep -q 'capturing from' "$WORK/logs.txt" && break; sleep 0.1; done
check container-capturing grep -q 'capturing from' "$WORK/logs.txt"
check container-not-stats-only bash -c "! grep -q 'statistics-only' '$WORK/logs.txt'"
hpid=$(podman inspect -f '{{.State.Pid}}' "$NAME" 2>/dev/null)
check container-runs-as-10640 test "$(awk '/^Uid:/{print $2}' "/proc/$hpid/status" 2>/dev/null)" = 10640
"$TOOLS/mkflood" -o "$WORK/quiet.pcap" quiet:200:100 >/dev/null
"$TOOLS/mkflood" -o "$WORK/burst.pcap" syn:6000:20000 >/dev/null
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 200 "$WORK/quiet.pcap" >/dev/null 2>&1
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 20000 "$WORK/burst.pcap" >/dev/null 2>&1
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 200 "$WORK/quiet.pcap" >/dev/null 2>&1
for ((i = 0; i < 150; i++)); do logs; grep -q 'incident 1 resolved' "$WORK/logs.txt" && break; sleep 0.1; done
check container-incident grep -q 'incident 1 opened' "$WORK/logs.txt"
for ((i = 0; i < 100; i++)); do [[ -s $VOL/data/incidents/1.pcap.enc ]] && break; sleep 0.1; done
check container-incident-sealed-on-volume test -s "$VOL/data/incidents/1.pcap.enc"
check container-healthcheck quiet podman healthcheck run "$NAME"
podman stop -t 20 "$NAME" >/dev/null 2>&1
logs
check container-stops-clean test "$(podman inspect -f '{{.State.ExitCode}}' "$NAME")" = 0
check container-continuous-file test -n "$(ls "$VOL"/data/pcaps/capture_*.pcap 2>/dev/null)"
n=0; for f in "$VOL"/data/pcaps/capture_*.pcap; do n=$((n + $(capinfos -c -M "$f" 2>/dev/null | awk '/Number of packets/{print $NF}'))); done
check container-kept-every-packet test "$n" -ge 6400
check container-flow-records test -s "$VOL/data/traffic_flows.jsonb"
check container-files-owned-by-its-user test -z "$(find "$VOL/data" ! -uid 10640)"
check container-nothing-for-others test -z "$(find "$VOL/data" -perm /007)"
finish
