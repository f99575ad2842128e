# Sourced by the benchmarks after `cd` to the repository: builds what they need and gives the
# shared input and timing helpers.
#   bench_mix N     sets MIX to bench/work/mix-N.pcap, generating it with mkmix from the ordinary
#                   captures of ../shared/corpus if it is not there yet; sets W (work folder)
#   t CMD...        prints the elapsed seconds of CMD (its output discarded)
#   median          the median of numbers on standard input, one a line
bench_mix() {
	scripts/deps.sh --test >/dev/null
	make -s -j2 build/ringcap build/tools/mkmix
	W=${BENCH_WORK:-bench/work}; mkdir -p "$W"
	MIX=$W/mix-$1.pcap
	[[ -f $MIX ]] || build/tools/mkmix -n "$1" -o "$MIX" ../shared/corpus/normal/*
	echo "input: $MIX ($(stat -c %s "$MIX") bytes, $1 packets)"
}
t() {
	local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
