#!/bin/bash
# The Debian package (README "Deploying"): `make deb' in a copy of the tree, lintian clean; the
# man pages hold every option of every subcommand's --help; the packaged config file parses with
# every setting at its default; the systemd units verify; the unit's ExecStart, run as the unit's
# user with exactly the unit's capabilities (setpriv), captures on a veth, opens an incident and
# seals it; the package installs into a Debian container (user, folders, modes), and remove keeps
# the evidence while purge deletes it and says so.
. "$(dirname "$0")/lib.sh"
need_root || { fail needs-root "run the suite as root"; finish; }
VETH=$ROOT/../shared/tools/vethpair.sh
PODMAN_BASE=$ROOT/../shared/tools/podman-base.sh
NSN=rpk$$; NSN=${NSN:0:10}
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; "$VETH" down "$NSN" >/dev/null 2>&1; }
trap cleanup EXIT
wait_for() { local i; for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# 1. build the package from a copy of the tree (tracked and new files, no build output)
S=$WORK/src
mkdir -p "$S"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -x -C "$S"
(cd "$S" && make deb) >"$WORK/deb.log" 2>&1
check deb-builds test $? = 0
DEB=$(ls "$S"/dist/ringcap_*_*.deb 2>/dev/null | head -n 1)
check deb-named test -n "$DEB" -a "$(basename "$DEB")" = "ringcap_$(cat "$ROOT/VERSION")-1_$(dpkg --print-architecture).deb"
[[ -n $DEB ]] || finish
lintian "$DEB" >"$WORK/lintian.txt" 2>&1
check lintian-clean bash -c "! grep -E '^(E|W): ' '$WORK/lintian.txt'"
dpkg-deb -x "$DEB" "$WORK/root"
R=$WORK/root
for f in usr/bin/ringcap etc/ringcap/ringcap.conf lib/systemd/system/ringcap@.service \
	lib/systemd/system/ringcap-serve@.service usr/share/man/man8/ringcap.8.gz \
	usr/share/man/man8/ringcap-run.8.gz usr/share/bash-completion/completions/ringcap; do
	check "has-$(basename "$f")" test -e "$R/$f"
done
check conffile grep -qx /etc/ringcap/ringcap.conf <(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)

# 2. man pages hold every option of --help, for every subcommand
BIN=$R/usr/bin/ringcap
subs=$("$BIN" help | awk '/^Commands:/{p=1;next} p && /^  [a-z]/ {print $1}' | grep -vx -e help -e version)
missing=
for s in $subs; do
	page=$(MANWIDTH=200 man -l "$R/usr/share/man/man8/ringcap-$s.8.gz" 2>/dev/null)
	[[ -n $page ]] || { missing+=" ringcap-$s.8"; continue; }
	for o in $("$BIN" "$s" --help | grep -oE '(^|[ ,])--[a-z0-9][a-z0-9-]*' | tr -d ' ,' | sort -u); do
		grep -qe "$o" <<<"$page" || missing+=" $s:$o"
	done
done
check man-pages-match-help test -z "$missing"
[[ -n $missing ]] && echo "  missing from the man pages:$missing"
check man-lists-subcommands bash -c "MANWIDTH=200 man -l '$R/usr/share/man/man8/ringcap.8.gz' | grep -q 'retention'"

# 3. the packaged config file: every setting at its default parses, and gives the defaults' run
sed -n 's/^#\([A-Za-z][^ ]*\) = \(.\+\)$/\1 = \2/p' "$R/etc/ringcap/ringcap.conf" >"$WORK/all.conf"
check conf-has-settings test "$(wc -l <"$WORK/all.conf")" -ge 25
check conf-names-thresholds grep -q '^THRESHOLD_SYN_PPS = 5000$' "$WORK/all.conf"
"$RINGCAP" run -q -r "$ROOT/tests/data/demo-synflood.pcap" -o "$WORK/conf-run" --config "$WORK/all.conf" >/dev/null 2>"$WORK/conf.err"
check conf-parses test $? = 0
"$RINGCAP" run -q -r "$ROOT/tests/data/demo-synflood.pcap" -o "$WORK/noconf-run" >/dev/null 2>&1
check conf-defaults-same-result test "$(jq -c '[.classification,.pcap_packets,.packets_seen]' "$WORK/conf-run/incidents/1.json")" = "$(jq -c '[.classification,.pcap_packets,.packets_seen]' "$WORK/noconf-run/incidents/1.json")"

# 4. the units verify (with the binary and man pages of the package)
U=$WORK/units
mkdir -p "$U" "$WORK/man/man8"
cp "$R"/usr/share/man/man8/*.gz "$WORK/man/man8/"
sed "s|/usr/bin/ringcap|$BIN|" "$R/lib/systemd/system/ringcap@.service" >"$U/ringcap@lo.service"
sed "s|/usr/bin/ringcap|$BIN|" "$R/lib/systemd/system/ringcap-serve@.service" >"$U/ringcap-serve@lo.service"
MANPATH=$WORK/man systemd-analyze verify "$U/ringcap@lo.service" >"$WORK/verify.txt" 2>&1
check unit-verifies test $? = 0
MANPATH=$WORK/man systemd-analyze verify "$U/ringcap-serve@lo.service" >>"$WORK/verify.txt" 2>&1
check serve-unit-verifies test $? = 0
unit() { sed -n "s/^$1=//p" "$R/lib/systemd/system/ringcap@.service"; }
check unit-user test "$(unit User)" = ringcap
check unit-caps test "$(unit AmbientCapabilities)" = "CAP_NET_RAW CAP_NET_ADMIN"
check unit-bounding test "$(unit CapabilityBoundingSet)" = "CAP_NET_RAW CAP_NET_ADMIN"
check unit-no-new-privs test "$(unit NoNewPrivileges)" = yes
check unit-protect-system test "$(unit ProtectSystem)" = strict

# 5. the unit's ExecStart as the unit's user with the unit's capabilities, on a veth
getent passwd ringcap >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin ringcap
eval "$("$VETH" up "$NSN")" || { fail veth-up; finish; }
sysctl -qw "net.ipv6.conf.$CAP.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$SND.disable_ipv6=1"
V=$WORK/var/lib/ringcap
mkdir -p "$V"; chown ringcap:ringcap "$V"; chmod 0750 "$V"
chmod 0755 "$WORK" "$WORK/var" "$WORK/var/lib"
cp "$R/etc/ringcap/ringcap.conf" "$WORK/ringcap.conf"; chmod 0644 "$WORK/ringcap.conf"
cp "$BIN" "$WORK/ringcap-bin"; chmod 0755 "$WORK/ringcap-bin"
exec_start=$(unit ExecStart)
exec_start=${exec_start//\/usr\/bin\/ringcap/$WORK/ringcap-bin}
exec_start=${exec_start//\/etc\/ringcap\/ringcap.conf/$WORK/ringcap.conf}
exec_start=${exec_start//\/var\/lib\/ringcap/$V}
exec_start=${exec_start//%I/$CAP}
caps=$(unit AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g; s/^/+/')
"$TOOLS/mkflood" -o "$WORK/quiet.pcap" quiet:200:100 >/dev/null
"$TOOLS/mkflood" -o "$WORK/burst.pcap" syn:6000:20000 >/dev/null
# shellcheck disable=SC2086
THRESHOLD_SYN_PPS=2000 RESOLVE_SECONDS=2 RINGCAP_HTTP=127.0.0.1:0 \
	setpriv --reuid=ringcap --regid=ringcap --init-groups --inh-caps="$caps" --ambient-caps="$caps" \
	--bounding-set=-all,"$caps" --no-new-privs -- $exec_start >"$WORK/unit.out" 2>"$WORK/unit.err" &
pid=$!
check unit-capturing wait_for "$WORK/unit.err" 'capturing from' 10
check unit-not-stats-only bash -c "! grep -q 'statistics-only' '$WORK/unit.err'"
st=/proc/$pid/status
check unit-runs-as-ringcap test "$(awk '/^Uid:/{print $2}' "$st" 2>/dev/null)" = "$(id -u ringcap)"
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 200 "$WORK/quiet.pcap" >/dev/null 2>&1
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 20000 "$WORK/burst.pcap" >/dev/null 2>&1
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 200 "$WORK/quiet.pcap" >/dev/null 2>&1
check unit-incident-opened wait_for "$WORK/unit.err" 'incident 1 opened' 10
check unit-incident-resolved wait_for "$WORK/unit.err" 'incident 1 resolved' 15
for ((i = 0; i < 100; i++)); do [[ -e $V/$CAP/incidents/1.pcap.enc ]] && break; sleep 0.1; done
check unit-incident-sealed test -s "$V/$CAP/incidents/1.pcap.enc"
stop_wait "$pid" TERM; rc=$?; pid=
check unit-stops-clean test $rc = 0
check unit-sanitizer-clean sanitizer_clean "$WORK/unit.err"
check unit-files-ringcaps test -z "$(find "$V" ! -user ringcap)"
# the CLI runs as the agent's user (the key file is ringcap's; root is refused, see README)
chown ringcap "$WORK"
check unit-capture-readable quiet setpriv --reuid=ringcap --regid=ringcap --init-groups -- "$WORK/ringcap-bin" incident pcap 1 -o "$V/$CAP" -w "$WORK/unit.pcap"
chown root "$WORK"
check unit-capture-is-pcap quiet capinfos "$WORK/unit.pcap"

# 6. install, remove and purge in a Debian container
if ! "$PODMAN_BASE" image >"$WORK/podman-base.txt" 2>&1; then
	fail container-base-image "$(tail -n 3 "$WORK/podman-base.txt")"
	finish
fi
eval "$("$PODMAN_BASE" env)"
cp "$DEB" "$WORK/ringcap.deb"
cat >"$WORK/in-container.sh" <<'SH'
set -u
say() { echo "RESULT $1 $2"; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1
apt-get install -y -qq /deb/ringcap.deb >/tmp/install.log 2>&1; say install $?
getent passwd ringcap >/dev/null; say user $?
say varlib "$(stat -c %a:%U:%G /var/lib/ringcap)"
say conf "$(stat -c %a:%U /etc/ringcap/ringcap.conf)"
say version "$(ringcap version | head -n 1)"
mkdir -p /var/lib/ringcap/eth0 && echo evidence >/var/lib/ringcap/eth0/kept && chown -R ringcap: /var/lib/ringcap/eth0
apt-get remove -y -qq ringcap >/tmp/remove.log 2>&1; say remove $?
say after-remove "$(cat /var/lib/ringcap/eth0/kept 2>/dev/null || echo gone)"
apt-get install -y -qq /deb/ringcap.deb >/dev/null 2>&1; say reinstall $?
say after-reinstall "$(cat /var/lib/ringcap/eth0/kept 2>/dev/null || echo gone)"
apt-get purge -y -qq ringcap >/tmp/purge.log 2>&1; say purge $?
say purge-says "$(grep -c 'purge deletes /var/lib/ringcap' /tmp/purge.log)"
say after-purge "$(test -e /var/lib/ringcap && echo present || echo gone)"
getent passwd ringcap >/dev/null; say user-after-purge $?
SH
timeout 600 podman run --rm --network host -v "$WORK/ringcap.deb:/deb/ringcap.deb:ro" \
	-v "$WORK/in-container.sh:/in.sh:ro" localhost/debian:bookworm bash /in.sh >"$WORK/container.txt" 2>&1
res() { sed -n "s/^RESULT $1 //p" "$WORK/container.txt"; }
check container-install test "$(res install)" = 0
check container-user test "$(res user)" = 0
check container-var-lib test "$(res varlib)" = 750:ringcap:ringcap
check container-conf test "$(res conf)" = 644:root
check container-version test "$(res version)" = "ringcap $(cat "$ROOT/VERSION")"
check container-remove test "$(res remove)" = 0
check container-remove-keeps-evidence test "$(res after-remove)" = evidence
check container-reinstall-keeps-evidence test "$(res after-reinstall)" = evidence
check container-purge test "$(res purge)" = 0
check container-purge-says-what test "$(res purge-says)" = 1
check container-purge-deletes test "$(res after-purge)" = gone
check container-purge-removes-user test "$(res user-after-purge)" = 2
finish
