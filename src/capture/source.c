/* source.c - see source.h. */
#include "capture/source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/pcapread.h"

struct source {
	pcap_t *p;       /* libpcap: live, or a file the fast reader does not take */
	pcapread_t *pr;  /* or the fast reader for a classic pcap file */
	int live;
	int nano;
	int buffer_mb;   /* live: the kernel buffer asked for */
	char name[256];
	source_cb cb;
	void *user;
};

static void dispatch_trampoline(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct source *s = (struct source *)(void *)user;
	s->cb(s->user, h, data);
}

static int set_filter(struct source *s, const char *filter, const char *origin, char *err,
		      size_t errlen)
{
	struct bpf_program prog;
	if (!filter || !*filter)
		return 0;
	if (s->pr) {
		char ebuf[PCAP_ERRBUF_SIZE];
		if (pcapread_setfilter(s->pr, filter, ebuf, sizeof ebuf) != 0) {
			snprintf(err, errlen, "invalid %s `%s': %s",
				 origin ? origin : "capture filter", filter, ebuf);
			return SOURCE_EFILTER;
		}
		return 0;
	}
	if (pcap_compile(s->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "invalid %s `%s': %s", origin ? origin : "capture filter",
			 filter, pcap_geterr(s->p));
		return SOURCE_EFILTER;
	}
	int rc = pcap_setfilter(s->p, &prog);
	pcap_freecode(&prog);
	if (rc != 0) {
		snprintf(err, errlen, "cannot apply capture filter `%s' on %s: %s", filter, s->name,
			 pcap_geterr(s->p));
		return SOURCE_EFILTER;
	}
	return 0;
}

/*
 * The kernel buffer when none is asked for: a quarter of a second of traffic at the link's
 * speed (/sys/class/net/IF/speed, Mbit/s), within SOURCE_BUFFER_MIN_MB..SOURCE_BUFFER_MAX_MB;
 * SOURCE_BUFFER_DEFAULT_MB when the speed is unknown. libpcap's own default (2 MiB) lasts 4 ms
 * at 4 Gbit/s: a writeback stall of the packet thread longer than that drops packets.
 */
int source_default_buffer_mb(const char *iface, long *speed_mbps)
{
	char path[128];
	long speed = -1;
	*speed_mbps = -1;
	if (iface && !strchr(iface, '/') &&
	    (size_t)snprintf(path, sizeof path, "/sys/class/net/%s/speed", iface) < sizeof path) {
		FILE *f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%ld", &speed) != 1)
				speed = -1;
			fclose(f);
		}
	}
	if (speed <= 0)
		return SOURCE_BUFFER_DEFAULT_MB;
	*speed_mbps = speed;
	long long mb = (long long)speed * 125000 / 4 / (1024 * 1024);
	if (mb < SOURCE_BUFFER_MIN_MB)
		mb = SOURCE_BUFFER_MIN_MB;
	if (mb > SOURCE_BUFFER_MAX_MB)
		mb = SOURCE_BUFFER_MAX_MB;
	return (int)mb;
}

static int open_live(struct source *s, const struct source_opts *o, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	s->p = pcap_create(o->iface, ebuf);
	if (!s->p) {
		snprintf(err, errlen, "cannot open interface `%s': %s", o->iface, ebuf);
		return SOURCE_ERR;
	}
	pcap_set_snaplen(s->p, o->snaplen);
	pcap_set_promisc(s->p, o->promisc);
	pcap_set_timeout(s->p, 100);
	long speed = -1;
	s->buffer_mb = o->buffer_mb > 0 ? o->buffer_mb : source_default_buffer_mb(o->iface, &speed);
	pcap_set_buffer_size(s->p, s->buffer_mb * 1024 * 1024);
	if (o->nano && pcap_set_tstamp_precision(s->p, PCAP_TSTAMP_PRECISION_NANO) != 0)
		s->nano = 0;
	else
		s->nano = o->nano;
	int rc = pcap_activate(s->p);
	if (rc == PCAP_ERROR_PERM_DENIED) {
		snprintf(err, errlen,
			 "no permission to capture on `%s': %s (needs root or CAP_NET_RAW)", o->iface,
			 pcap_geterr(s->p));
		return SOURCE_EPERM;
	}
	if (rc < 0) {
		const char *why = pcap_statustostr(rc);
		const char *more = pcap_geterr(s->p);
		snprintf(err, errlen, "cannot capture on `%s': %s%s%s", o->iface, why,
			 more && *more ? ": " : "", more ? more : "");
		return SOURCE_ERR;
	}
	if (pcap_setnonblock(s->p, 1, ebuf) != 0) {
		snprintf(err, errlen, "cannot make `%s' non-blocking: %s", o->iface, ebuf);
		return SOURCE_ERR;
	}
	s->live = 1;
	return 0;
}

static int open_file(struct source *s, const struct source_opts *o, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	/* a regular classic pcap file: the fast reader; anything else it declines: libpcap */
	struct pcapread_opts po = { .nano = o->nano };
	s->pr = pcapread_open(o->file, &po, ebuf, sizeof ebuf);
	if (s->pr) {
		s->nano = o->nano;
		return 0;
	}
	s->p = pcap_open_offline_with_tstamp_precision(
		o->file, o->nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!s->p) {
		snprintf(err, errlen, "cannot read capture file `%s': %s", o->file, ebuf);
		return SOURCE_ERR;
	}
	s->nano = o->nano;
	return 0;
}

int source_open(const struct source_opts *o, source_t **out, char *err, size_t errlen)
{
	int rc = SOURCE_ERR;
	struct source *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return SOURCE_ERR;
	}
	if ((o->iface == NULL) == (o->file == NULL)) {
		snprintf(err, errlen, "give exactly one of an interface (-i) or a file (-r)");
		goto out;
	}
	snprintf(s->name, sizeof s->name, "%s", o->iface ? o->iface : o->file);
	rc = o->iface ? open_live(s, o, err, errlen) : open_file(s, o, err, errlen);
	if (rc != 0)
		goto out;
	rc = set_filter(s, o->filter, o->filter_origin, err, errlen);
	if (rc != 0)
		goto out;
	*out = s;
	return 0;
out:
	source_close(s);
	return rc;
}

int source_dispatch(source_t *s, int max, source_cb cb, void *user, char *err, size_t errlen)
{
	if (s->pr) {
		char ebuf[PCAP_ERRBUF_SIZE];
		int n = pcapread_dispatch(s->pr, max, cb, user, ebuf, sizeof ebuf);
		if (n == PCAPREAD_BREAK)
			return 0;
		if (n < 0) {
			snprintf(err, errlen, "error reading `%s': %s", s->name, ebuf);
			return SOURCE_ERR;
		}
		return n ? n : SOURCE_EOF;
	}
	s->cb = cb;
	s->user = user;
	int n = pcap_dispatch(s->p, max, dispatch_trampoline, (u_char *)s);
	if (n == PCAP_ERROR_BREAK)
		return 0;
	if (n < 0) {
		snprintf(err, errlen, "%s `%s': %s", s->live ? "capture failed on" : "error reading",
			 s->name, pcap_geterr(s->p));
		return SOURCE_ERR;
	}
	if (n == 0 && !s->live)
		return SOURCE_EOF;
	return n;
}

void source_breakloop(source_t *s)
{
	if (s && s->pr)
		pcapread_breakloop(s->pr);
	else if (s && s->p)
		pcap_breakloop(s->p);
}

int source_fd(const source_t *s)
{
	return s->live ? pcap_get_selectable_fd(s->p) : -1;
}

int source_is_live(const source_t *s)
{
	return s->live;
}

int source_datalink(const source_t *s)
{
	return s->pr ? pcapread_datalink(s->pr) : pcap_datalink(s->p);
}

uint32_t source_datalink_ext(const source_t *s)
{
	int e = s->pr ? pcapread_datalink_ext(s->pr) : pcap_datalink_ext(s->p);
	return e > 0 ? (uint32_t)e & 0xffff0000u : 0;
}

int source_snaplen(const source_t *s)
{
	return s->pr ? pcapread_snapshot(s->pr) : pcap_snapshot(s->p);
}

int source_is_nano(const source_t *s)
{
	return s->nano;
}

const char *source_name(const source_t *s)
{
	return s->name;
}

int source_stats(source_t *s, struct source_stats *st)
{
	struct pcap_stat ps;
	memset(st, 0, sizeof *st);
	if (!s->live || pcap_stats(s->p, &ps) != 0)
		return -1;
	st->received = ps.ps_recv;
	st->dropped = ps.ps_drop;
	st->ifdropped = ps.ps_ifdrop;
	return 0;
}

void source_close(source_t *s)
{
	if (!s)
		return;
	if (s->p)
		pcap_close(s->p);
	pcapread_close(s->pr);
	free(s);
}

const char *source_lib_version(void)
{
	return pcap_lib_version();
}

int source_buffer_mb(const source_t *s)
{
	return s->live ? s->buffer_mb : 0;
}
