#!/bin/bash
# Writes the packaged /etc/ringcap/ringcap.conf from `ringcap run --help': every setting of
# `ringcap run', commented out, with its meaning and default, so the file never drifts from the
# option table. Keys are the environment names where a setting has one, else the flag's name
# (the config file takes both). The interface, the output folder and the config file itself come
# from the systemd unit, so they are left out.
#   scripts/mkconf.sh BINARY > ringcap.conf
set -euo pipefail
bin=$1
cat <<'HEAD'
# /etc/ringcap/ringcap.conf: settings of `ringcap run' (ringcap@IFACE.service reads this file).
# One `key = value' per line; keys are the environment names or the flags' long names. Every
# setting is shown commented out with its default: remove the `#' to change it. An invalid value
# stops the agent at start with a message naming the setting (journalctl -u ringcap@IFACE).
# Precedence: defaults < this file < environment (/etc/default/ringcap) < flags.
# Secrets (S3_SECRET_KEY) are better kept in S3_CREDENTIALS_FILE (mode 0600, owned by ringcap).
HEAD
"$bin" run --help | awk '
	/^  -/ || /^  --/ {
		line = $0
		sub(/^  /, "", line)
		# "-i, --interface IFACE   text [env KEY]"
		if (match(line, /--[a-z0-9-]+/) == 0) next
		flag = substr(line, RSTART + 2, RLENGTH - 2)
		rest = substr(line, RSTART + RLENGTH)
		if (flag == "interface" || flag == "read" || flag == "output" || flag == "config" ||
		    flag == "help") next
		arg = rest; sub(/^ /, "", arg)
		if (arg ~ /^ /) next                      # a switch without a value
		split(arg, a, " "); argname = a[1]
		text = rest; sub(/^ [^ ]+ +/, "", text)
		key = flag
		if (match(text, /\[env [A-Z0-9_]+\]/)) {
			key = substr(text, RSTART + 5, RLENGTH - 6)
			text = substr(text, 1, RSTART - 1)
		}
		sub(/ +$/, "", text)
		def = ""
		if (match(text, /[(; ]default [^);]*/)) {
			d = substr(text, RSTART + 9, RLENGTH - 9)
			if ((d !~ /[ :]/ && d != "none") || d ~ /^[0-9.]+:[0-9]+$/) def = d
		}
		printf "\n# %s (%s)\n#%s = %s\n", text, argname, key, def
	}'
