#!/bin/bash
# Writes the man pages from the binary's own --help texts, so they never drift from the option
# tables: ringcap(8) (the subcommands, from `ringcap help') and ringcap-SUB(8) for each
# subcommand (its options, from `ringcap SUB --help'). Needs help2man.
#   scripts/mkman.sh BINARY OUTDIR
set -euo pipefail
bin=$1 out=$2
command -v help2man >/dev/null || { echo "mkman.sh: help2man is not installed (apt-get install help2man)" >&2; exit 1; }
mkdir -p "$out"
ver=$("$bin" version | head -n 1 | awk '{print $2}')
subs=$("$bin" help | awk '/^Commands:/{p=1;next} p && /^  [a-z]/ {print $1}' | grep -vx -e help -e version)
see=$(for s in $subs; do printf '.BR ringcap\\-%s (8)\n' "$s"; done)
inc=$(mktemp); trap 'rm -f "$inc"' EXIT
printf '[SEE ALSO]\n%s\n.PP\nREADME.md and DESIGN.md in /usr/share/doc/ringcap.\n' "$see" >"$inc"
# help2man runs "PROGRAM --help" and "PROGRAM --version" through the shell
help2man --no-info --section=8 --version-string="$ver" --include="$inc" \
	--name="network capture agent: flight recorder, continuous recorder, evidence vault" \
	--help-option=help --output="$out/ringcap.8" "$bin"
for s in $subs; do
	what=$("$bin" help | awk -v s="$s" '$1 == s { $1 = ""; sub(/^ +/, ""); print }')
	printf '[SEE ALSO]\n.BR ringcap (8)\n' >"$inc"
	help2man --no-info --section=8 --version-string="$ver" --include="$inc" --name="$what" \
		--output="$out/ringcap-$s.8" "$bin $s"
	# the page's name is the subcommand's (whatis: "ringcap-SUB \- ...")
	sed -i -e "s/^\\.TH RINGCAP /.TH RINGCAP-${s^^} /" -e "s/^ringcap $s \\\\-/ringcap-$s \\\\-/" \
		"$out/ringcap-$s.8"
done
