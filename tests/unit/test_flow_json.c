/*
 * test_flow_json.c - flow record formatting (exact strings), time formatting, and the flow log
 * writer: round trip in a temporary directory, a full disk (/dev/full) and a short write
 * (RLIMIT_FSIZE) that must not leave half a line in the file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outputs/flow_json.h"
#include "base/log.h"
#include "testhelp.h"

#define US 1000LL
#define SEC 1000000000LL

static void test_flow_json_time(void)
{
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000000Z"},
	    {999, "1970-01-01T00:00:00.000000Z"},
	    {1999, "1970-01-01T00:00:00.000001Z"},
	    {-1, "1969-12-31T23:59:59.999999Z"},
	    {-1000, "1969-12-31T23:59:59.999999Z"},
	    {-1001, "1969-12-31T23:59:59.999998Z"},
	    {1270661369782934123LL, "2010-04-07T17:29:29.782934Z"},
	    {951782400LL * SEC, "2000-02-29T00:00:00.000000Z"},
	    {2147483648LL * SEC, "2038-01-19T03:14:08.000000Z"},
	    {4102444800LL * SEC + 999999999, "2100-01-01T00:00:00.999999Z"},
	    {-3153600000LL * SEC, "1870-01-25T00:00:00.000000Z"},
	    {INT64_MAX, "2262-04-11T23:47:16.854775Z"},
	    {INT64_MIN, "1677-09-21T00:12:43.145224Z"},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_EQ_STR(flow_json_time(cases[i].ns, buf, sizeof buf), cases[i].want);
}

static struct flow_record rec(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			      uint8_t proto, uint16_t vlan)
{
	struct flow_record r;
	int af = strchr(src, ':') ? AF_INET6 : AF_INET;

	memset(&r, 0, sizeof r);
	r.ip_version = af == AF_INET ? 4 : 6;
	inet_pton(af, src, r.src);
	inet_pton(af, dst, r.dst);
	r.src_port = sport;
	r.dst_port = dport;
	r.proto = proto;
	r.vlan = vlan;
	return r;
}

static void test_flow_json_format(void)
{
	struct {
		struct flow_record r;
		const char *pcap_file;
		const char *want;
	} cases[6];
	char buf[512];
	size_t i, n;

	cases[0].r = rec("10.0.0.1", 51000, "10.0.0.2", 80, 6, 0);
	cases[0].r.ts_start_ns = 1270661369782934000LL;
	cases[0].r.ts_end_ns = 1270661370000001999LL;
	cases[0].r.pkts_orig = 5;
	cases[0].r.bytes_orig = 400;
	cases[0].r.pkts_resp = 4;
	cases[0].r.bytes_resp = 3000;
	cases[0].r.tcp_flags_orig = TCPF_FIN | TCPF_SYN | TCPF_PSH | TCPF_ACK;
	cases[0].r.tcp_flags_resp = TCPF_ACK | TCPF_PSH | TCPF_SYN | TCPF_FIN;
	cases[0].r.end_reason = FLOW_END_TCP_FIN;
	cases[0].pcap_file = "capture_20100407_172929_0001.pcap";
	cases[0].want =
	    "{\"ts_start\":\"2010-04-07T17:29:29.782934Z\",\"ts_end\":\"2010-04-07T17:29:30."
	    "000001Z\","
	    "\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"src_port\":51000,\"dst_port\":80,"
	    "\"proto\":6,\"ip_version\":4,\"vlan\":null,\"pkts_orig\":5,\"bytes_orig\":400,"
	    "\"pkts_resp\":4,\"bytes_resp\":3000,\"tcp_flags_orig\":\"FSPA\","
	    "\"tcp_flags_resp\":\"FSPA\",\"end_reason\":\"tcp_fin\","
	    "\"pcap_file\":\"capture_20100407_172929_0001.pcap\"}\n";

	cases[1].r = rec("2001:db8::1", 5353, "ff02::fb", 5353, 17, 100);
	cases[1].r.ts_start_ns = 0;
	cases[1].r.ts_end_ns = 1;
	cases[1].r.pkts_orig = UINT64_MAX;
	cases[1].r.bytes_orig = 18446744073709551615ULL;
	cases[1].r.end_reason = FLOW_END_RUN;
	cases[1].pcap_file = NULL;
	cases[1].want =
	    "{\"ts_start\":\"1970-01-01T00:00:00.000000Z\",\"ts_end\":\"1970-01-01T00:00:00."
	    "000000Z\","
	    "\"src_ip\":\"2001:db8::1\",\"dst_ip\":\"ff02::fb\",\"src_port\":5353,\"dst_port\":"
	    "5353,"
	    "\"proto\":17,\"ip_version\":6,\"vlan\":100,\"pkts_orig\":18446744073709551615,"
	    "\"bytes_orig\":18446744073709551615,\"pkts_resp\":0,\"bytes_resp\":0,"
	    "\"tcp_flags_orig\":null,\"tcp_flags_resp\":null,\"end_reason\":\"end_of_run\","
	    "\"pcap_file\":null}\n";

	cases[2].r = rec("192.168.1.10", 8, "8.8.8.8", 0, 1, 4094);
	cases[2].r.ts_start_ns = 2147483648LL * SEC + 5 * US;
	cases[2].r.ts_end_ns = 2147483649LL * SEC;
	cases[2].r.pkts_orig = 3;
	cases[2].r.bytes_orig = 294;
	cases[2].r.pkts_resp = 3;
	cases[2].r.bytes_resp = 294;
	cases[2].r.end_reason = FLOW_END_IDLE;
	cases[2].pcap_file = "a.pcap";
	cases[2].want =
	    "{\"ts_start\":\"2038-01-19T03:14:08.000005Z\",\"ts_end\":\"2038-01-19T03:14:09."
	    "000000Z\","
	    "\"src_ip\":\"192.168.1.10\",\"dst_ip\":\"8.8.8.8\",\"src_port\":8,\"dst_port\":0,"
	    "\"proto\":1,\"ip_version\":4,\"vlan\":4094,\"pkts_orig\":3,\"bytes_orig\":294,"
	    "\"pkts_resp\":3,\"bytes_resp\":294,\"tcp_flags_orig\":null,\"tcp_flags_resp\":null,"
	    "\"end_reason\":\"idle_timeout\",\"pcap_file\":\"a.pcap\"}\n";

	/* TCP without flags seen: empty strings, not null; all flags in FSRPAUEC order */
	cases[3].r = rec("::ffff:10.1.2.3", 0, "::1", 0, 6, 0);
	cases[3].r.tcp_flags_orig = 0;
	cases[3].r.tcp_flags_resp = 0xff;
	cases[3].r.pkts_orig = 1;
	cases[3].r.end_reason = FLOW_END_EVICTED;
	cases[3].pcap_file = "";
	cases[3].want =
	    "{\"ts_start\":\"1970-01-01T00:00:00.000000Z\",\"ts_end\":\"1970-01-01T00:00:00."
	    "000000Z\","
	    "\"src_ip\":\"::ffff:10.1.2.3\",\"dst_ip\":\"::1\",\"src_port\":0,\"dst_port\":0,"
	    "\"proto\":6,\"ip_version\":6,\"vlan\":null,\"pkts_orig\":1,\"bytes_orig\":0,"
	    "\"pkts_resp\":0,\"bytes_resp\":0,\"tcp_flags_orig\":\"\",\"tcp_flags_resp\":"
	    "\"FSRPAUEC\","
	    "\"end_reason\":\"evicted\",\"pcap_file\":\"\"}\n";

	/* a file name that needs escaping; bad UTF-8 becomes U+FFFD, good UTF-8 stays */
	cases[4].r = rec("10.0.0.1", 1, "10.0.0.2", 2, 17, 0);
	cases[4].r.ts_start_ns = -1;
	cases[4].r.ts_end_ns = -1;
	cases[4].r.end_reason = FLOW_END_ACTIVE;
	cases[4].pcap_file = "we\"ird\\na\nme\t\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
			     "\xff\xc0\xaf\xed\xa0\x80\xe2\x82.pcap";
	cases[4].want =
	    "{\"ts_start\":\"1969-12-31T23:59:59.999999Z\",\"ts_end\":\"1969-12-31T23:59:59."
	    "999999Z\","
	    "\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"src_port\":1,\"dst_port\":2,"
	    "\"proto\":17,\"ip_version\":4,\"vlan\":null,\"pkts_orig\":0,\"bytes_orig\":0,"
	    "\"pkts_resp\":0,\"bytes_resp\":0,\"tcp_flags_orig\":null,\"tcp_flags_resp\":null,"
	    "\"end_reason\":\"active_timeout\",\"pcap_file\":"
	    "\"we\\\"ird\\\\na\\nme\\t\\u0001\\u001f"
	    "\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"
	    "\\ufffd\\ufffd.pcap\"}\n";

	cases[5].r = rec("10.0.0.1", 1, "10.0.0.2", 2, 6, 0);
	cases[5].r.tcp_flags_orig = TCPF_RST;
	cases[5].r.tcp_flags_resp = TCPF_ECE | TCPF_CWR | TCPF_URG;
	cases[5].r.end_reason = FLOW_END_TCP_RST;
	cases[5].pcap_file = NULL;
	cases[5].want =
	    "{\"ts_start\":\"1970-01-01T00:00:00.000000Z\",\"ts_end\":\"1970-01-01T00:00:00."
	    "000000Z\","
	    "\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"src_port\":1,\"dst_port\":2,"
	    "\"proto\":6,\"ip_version\":4,\"vlan\":null,\"pkts_orig\":0,\"bytes_orig\":0,"
	    "\"pkts_resp\":0,\"bytes_resp\":0,\"tcp_flags_orig\":\"R\",\"tcp_flags_resp\":\"UEC\","
	    "\"end_reason\":\"tcp_rst\",\"pcap_file\":null}\n";

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = flow_json_format(&cases[i].r, cases[i].pcap_file, buf, sizeof buf);
		CHECK_EQ_STR(buf, cases[i].want);
		CHECK_EQ_INT(n, strlen(cases[i].want));
	}

	/* too small: 0 and an empty string; exactly big enough (line + NUL): fits */
	n = strlen(cases[0].want);
	CHECK_EQ_INT(flow_json_format(&cases[0].r, cases[0].pcap_file, buf, n + 1), n);
	CHECK_EQ_STR(buf, cases[0].want);
	CHECK_EQ_INT(flow_json_format(&cases[0].r, cases[0].pcap_file, buf, n), 0);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(flow_json_format(&cases[0].r, cases[0].pcap_file, buf, 1), 0);
	CHECK_EQ_INT(flow_json_format(&cases[0].r, cases[0].pcap_file, buf, 0), 0);
}

/* The longest record: fits FLOW_JSON_LINE_MAX with a 500-byte name; 512 fits usual records. */
static void test_flow_json_worst_case(void)
{
	struct flow_record r = rec("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535,
				   "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535, 6, 4095);
	char buf[FLOW_JSON_LINE_MAX], name[501];
	size_t n;

	r.ts_start_ns = INT64_MIN;
	r.ts_end_ns = INT64_MAX;
	r.pkts_orig = r.bytes_orig = r.pkts_resp = r.bytes_resp = UINT64_MAX;
	r.tcp_flags_orig = r.tcp_flags_resp = 0xff;
	r.end_reason = FLOW_END_ACTIVE;
	memset(name, '~', 500);
	name[500] = 0;
	n = flow_json_format(&r, name, buf, sizeof buf);
	CHECK_EQ_INT(n, 990);
	n = flow_json_format(&r, "capture_20100407_172929_0001.pcap", buf, sizeof buf);
	CHECK_EQ_INT(n, 523);
	r.pkts_orig = r.bytes_orig = r.pkts_resp = r.bytes_resp = 999999999999999ULL;
	n = flow_json_format(&r, "capture_20100407_172929_0001_abcdef.pcap", buf, 512);
	CHECK(n > 0);
}

/* --- the flow log --- */

static char tmpdir[64];

static int make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_flow_json.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static size_t read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return (size_t)-1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return n;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Sends stderr to a file while a test runs, so log lines can be counted. */
static int stderr_to(const char *path)
{
	int saved = dup(STDERR_FILENO);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	return saved;
}

static void stderr_back(int saved)
{
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
}

static int count_substr(const char *hay, const char *needle)
{
	int c = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		c++;
		hay += strlen(needle);
	}
	return c;
}

static void test_flow_log_roundtrip(void)
{
	static char got[1 << 20], want[1 << 20];
	char path[128], line[128], err[256];
	struct flow_log_stats st;
	struct stat sb;
	flow_log_t *l;
	size_t wlen = 0, n;
	int i;

	CHECK(make_tmpdir() == 0);
	snprintf(path, sizeof path, "%s/traffic_flows.jsonb", tmpdir);
	umask(022);

	CHECK(flow_log_open("/nonexistent-dir/x.jsonb", err, sizeof err) == NULL);
	CHECK_EQ_STR(err, "cannot open flow log `/nonexistent-dir/x.jsonb': No such file or "
			  "directory");

	l = flow_log_open(path, err, sizeof err);
	CHECK(l != NULL);
	if (!l)
		return;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600); /* private: never readable by others */
	for (i = 0; i < 3; i++) {
		n = (size_t)snprintf(line, sizeof line, "{\"n\":%d}\n", i);
		flow_log_append(l, line, n);
		memcpy(want + wlen, line, n);
		wlen += n;
	}
	CHECK_EQ_INT(file_size(path), 0); /* buffered */
	flow_log_flush(l, 0);		  /* nothing written yet: goes out now */
	CHECK_EQ_INT(file_size(path), (long long)wlen);
	flow_log_append(l, "{\"n\":3}\n", 8);
	memcpy(want + wlen, "{\"n\":3}\n", 8);
	wlen += 8;
	flow_log_flush(l, 0); /* less than a second since the last write: waits */
	CHECK_EQ_INT(file_size(path), (long long)wlen - 8);
	flow_log_flush(l, 1);
	CHECK_EQ_INT(file_size(path), (long long)wlen);

	/* more than the 256 KiB batch: written without a flush, whole lines only */
	for (i = 0; i < 5000; i++) {
		n = (size_t)snprintf(line, sizeof line, "{\"line\":%d,\"pad\":\"%060d\"}\n", i, i);
		flow_log_append(l, line, n);
		memcpy(want + wlen, line, n);
		wlen += n;
	}
	CHECK(file_size(path) > 200000);
	CHECK(file_size(path) < (long long)wlen);
	n = read_file(path, got, sizeof got);
	CHECK(n > 0 && n != (size_t)-1 && got[n - 1] == '\n');
	flow_log_stats(l, &st);
	CHECK_EQ_INT(st.write_errors, 0);
	CHECK_EQ_INT(st.lines_dropped, 0);
	CHECK(flow_log_close(l) == 0);

	/* reopening appends */
	l = flow_log_open(path, err, sizeof err);
	CHECK(l != NULL);
	if (!l)
		return;
	flow_log_append(l, "{\"again\":1}\n", 12);
	memcpy(want + wlen, "{\"again\":1}\n", 12);
	wlen += 12;
	flow_log_stats(l, &st);
	CHECK_EQ_INT(st.lines_written, 0);
	CHECK(flow_log_close(l) == 0);
	n = read_file(path, got, sizeof got);
	CHECK_EQ_INT(n, wlen);
	CHECK(n == wlen && memcmp(got, want, wlen) == 0);
	CHECK(flow_log_close(NULL) == 0);
	unlink(path);
	rmdir(tmpdir);
}

static void test_flow_log_dev_full(void)
{
	static char log_text[65536];
	char line[101], err[256], logpath[128];
	struct flow_log_stats st;
	flow_log_t *l;
	int i, saved;

	memset(line, 'x', 99);
	line[99] = '\n';
	line[100] = 0;
	l = flow_log_open("/dev/full", err, sizeof err);
	CHECK(l != NULL);
	if (!l)
		return;
	snprintf(logpath, sizeof logpath, "/tmp/test_flow_json.stderr.%d", (int)getpid());
	saved = stderr_to(logpath);
	for (i = 0; i < 12000; i++)
		flow_log_append(l, line, 100); /* the 256 KiB batch fails once, then lines wait */
	flow_log_stats(l, &st);
	CHECK_EQ_INT(st.write_errors, 1);
	CHECK_EQ_INT(st.lines_written, 0);
	CHECK_EQ_INT(st.lines_dropped, 12000 - (1024 * 1024) / 100);
	flow_log_flush(l, 1);
	flow_log_flush(l, 0); /* within a second of the last try: no new try */
	flow_log_stats(l, &st);
	CHECK_EQ_INT(st.write_errors, 2);
	CHECK_EQ_INT(st.lines_dropped, 12000 - (1024 * 1024) / 100);
	CHECK(flow_log_close(l) == -1);
	stderr_back(saved);
	read_file(logpath, log_text, sizeof log_text);
	unlink(logpath);
	CHECK_EQ_INT(count_substr(log_text, "No space left on device"), 1); /* one per episode */
	CHECK_EQ_INT(count_substr(log_text, "could not be written"), 1);
}

/* A write cut short (file size limit) leaves whole lines only, and the rest follows later. */
static void test_flow_log_short_write(void)
{
	static char got[16384], want[16384], log_text[4096];
	char path[128], line[80], err[256], logpath[128];
	struct flow_log_stats st;
	struct rlimit old, lim;
	flow_log_t *l;
	size_t wlen = 0, n;
	int i, saved;

	CHECK(make_tmpdir() == 0);
	snprintf(path, sizeof path, "%s/traffic_flows.jsonb", tmpdir);
	snprintf(logpath, sizeof logpath, "%s/stderr", tmpdir);
	l = flow_log_open(path, err, sizeof err);
	CHECK(l != NULL);
	if (!l)
		return;
	for (i = 0; i < 40; i++) {
		n = (size_t)snprintf(line, sizeof line, "{\"line\":%02d,\"pad\":\"%043d\"}\n", i,
				     i);
		CHECK_EQ_INT(n, 64);
		flow_log_append(l, line, n);
		memcpy(want + wlen, line, n);
		wlen += n;
	}
	signal(SIGXFSZ, SIG_IGN);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = 1000; /* the write stops inside line 16 */
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	saved = stderr_to(logpath);
	flow_log_flush(l, 1);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK_EQ_INT(file_size(path), 15 * 64); /* the partial line was cut off */
	flow_log_stats(l, &st);
	CHECK_EQ_INT(st.write_errors, 1);
	CHECK_EQ_INT(st.lines_written, 15);
	flow_log_flush(l, 1);
	flow_log_stats(l, &st);
	CHECK_EQ_INT(st.lines_written, 40);
	CHECK_EQ_INT(st.lines_dropped, 0);
	CHECK(flow_log_close(l) == 0);
	stderr_back(saved);
	signal(SIGXFSZ, SIG_DFL);
	n = read_file(path, got, sizeof got);
	CHECK_EQ_INT(n, wlen);
	CHECK(n == wlen && memcmp(got, want, wlen) == 0);
	read_file(logpath, log_text, sizeof log_text);
	CHECK_EQ_INT(count_substr(log_text, "warning: flow log"), 1);
	CHECK_EQ_INT(count_substr(log_text, "writing again"), 1);
	unlink(path);
	unlink(logpath);
	rmdir(tmpdir);
}

int main(void)
{
	RUN(test_flow_json_time);
	RUN(test_flow_json_format);
	RUN(test_flow_json_worst_case);
	RUN(test_flow_log_roundtrip);
	RUN(test_flow_log_dev_full);
	RUN(test_flow_log_short_write);
	return test_main_end();
}
