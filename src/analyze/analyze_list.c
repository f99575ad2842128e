/*
 * analyze_list.c - see analyze.h (alist).
 *
 * DESIGN: the continuous files are found by their names (pcapw_parse_name: the same rule the
 * writer and its retention use), so stray files in DIR/pcaps are never listed as captures; the
 * incident folder belongs to another module whose layout may change, so anything that looks like
 * a capture under it (*.pcap, *.pcapng, *.part, a few levels deep) is listed. Only regular files
 * are listed; symbolic links are not followed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze/analyze.h"
#include "outputs/pcapw.h"

#define ALIST_MAX_FILES 100000
#define ALIST_MAX_DEPTH 4

static int al_has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && strcmp(s + n - m, suf) == 0;
}

static char *al_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* Adds an entry (path and name are taken over). Returns 0, or -1 if out of memory or full. */
static int al_add(struct alist *l, char *path, char *name, int incident, int writing, uint64_t size)
{
	if (!path || !name || l->n >= ALIST_MAX_FILES)
		goto fail;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct alist_entry *e = realloc(l->e, nc * sizeof *e);
		if (!e)
			goto fail;
		l->e = e;
		l->cap = nc;
	}
	struct alist_entry *e = &l->e[l->n++];
	memset(e, 0, sizeof *e);
	e->path = path;
	e->name = name;
	e->incident = incident;
	e->writing = writing;
	e->size = size;
	return 0;
fail:
	free(path);
	free(name);
	return -1;
}

struct al_seq {
	uint32_t seq;
	char *name;
	int part;
};

static int al_seq_cmp(const void *x, const void *y)
{
	const struct al_seq *a = x, *b = y;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return strcmp(a->name, b->name);
}

/*
 * The continuous files of dir/pcaps sorted by sequence number. Returns the count and *out (names
 * only, caller frees), 0 with *out NULL if the folder does not exist, or -1 with err.
 */
static long al_scan_pcaps(const char *pdir, struct al_seq **out, char *err, size_t errlen)
{
	DIR *d = opendir(pdir);
	struct al_seq *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	*out = NULL;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", pdir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < ALIST_MAX_FILES) {
		struct pcapw_fileid id;
		int part = 0;
		if (!pcapw_parse_name(de->d_name, &id, &part))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct al_seq *nv = realloc(v, nc * sizeof *nv);
			if (!nv)
				goto oom;
			v = nv;
			cap = nc;
		}
		v[n].seq = id.seq;
		v[n].part = part;
		v[n].name = strdup(de->d_name);
		if (!v[n].name)
			goto oom;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, al_seq_cmp);
	*out = v;
	return (long)n;
oom:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int al_str_cmp(const void *x, const void *y)
{
	return strcmp(((const struct alist_entry *)x)->name, ((const struct alist_entry *)y)->name);
}

static void al_walk_incidents(struct alist *l, const char *dir, const char *rel, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		char *path = al_join(dir, de->d_name);
		char *name = al_join(rel, de->d_name);
		if (!path || !name || lstat(path, &st) != 0) {
			free(path);
			free(name);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth < ALIST_MAX_DEPTH)
				al_walk_incidents(l, path, name, depth + 1);
			free(path);
			free(name);
			continue;
		}
		if (!S_ISREG(st.st_mode) ||
		    !(al_has_suffix(de->d_name, ".pcap") || al_has_suffix(de->d_name, ".pcapng") ||
		      al_has_suffix(de->d_name, ".part"))) {
			free(path);
			free(name);
			continue;
		}
		al_add(l, path, name, 1, al_has_suffix(de->d_name, ".part"), (uint64_t)st.st_size);
	}
	closedir(d);
}

int alist_scan(const char *dir, struct alist *l, char *err, size_t errlen)
{
	char *pdir = al_join(dir, "pcaps"), *idir = al_join(dir, "incidents");
	struct al_seq *v = NULL;
	struct stat st;
	long n = 0;
	int ret = -1, have_inc;

	memset(l, 0, sizeof *l);
	if (!pdir || !idir) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	n = al_scan_pcaps(pdir, &v, err, errlen);
	if (n < 0)
		goto out;
	have_inc = stat(idir, &st) == 0 && S_ISDIR(st.st_mode);
	if (!v && !have_inc && stat(pdir, &st) != 0) {
		snprintf(err, errlen,
			 "%s: no pcaps/ or incidents/ folder (is it the -o DIR of "
			 "`ringcap run'?)",
			 dir);
		goto out;
	}
	for (long i = 0; i < n; i++) {
		char *path = al_join(pdir, v[i].name);
		char *name = al_join("pcaps", v[i].name);
		uint64_t size = 0;
		if (path && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			size = (uint64_t)st.st_size;
		else if (path) {
			free(path);
			free(name);
			continue;
		}
		al_add(l, path, name, 0, v[i].part, size);
	}
	if (have_inc) {
		size_t first = l->n;
		al_walk_incidents(l, idir, "incidents", 1);
		qsort(l->e + first, l->n - first, sizeof *l->e, al_str_cmp);
	}
	ret = 0;
out:
	for (long i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
	free(pdir);
	free(idir);
	return ret;
}

long alist_continuous(const char *dir, char ***paths, char *err, size_t errlen)
{
	char *pdir = al_join(dir, "pcaps");
	struct al_seq *v = NULL;
	long n, k = 0;

	*paths = NULL;
	if (!pdir) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = al_scan_pcaps(pdir, &v, err, errlen);
	if (n > 0) {
		*paths = calloc((size_t)n, sizeof **paths);
		for (long i = 0; *paths && i < n; i++)
			if (((*paths)[k] = al_join(pdir, v[i].name)) != NULL)
				k++;
		if (!*paths) {
			snprintf(err, errlen, "out of memory");
			k = -1;
		}
	} else {
		k = n;
	}
	for (long i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(pdir);
	return k;
}

void alist_print(const struct alist *l, const char *dir, FILE *out, int json)
{
	char t0[40], t1[40];

	if (json) {
		fputs("{\"dir\":", out);
		aout_json_str(out, dir);
		fputs(",\"files\":[", out);
		for (size_t i = 0; i < l->n; i++) {
			const struct alist_entry *e = &l->e[i];
			fprintf(out, "%s\n{\"kind\":\"%s\",\"name\":", i ? "," : "",
				e->incident ? "incident" : "continuous");
			aout_json_str(out, e->name);
			fprintf(out, ",\"size\":%llu,\"packets\":%llu,\"first\":",
				(unsigned long long)e->size, (unsigned long long)e->packets);
			if (e->packets)
				fprintf(out, "\"%s\",\"last\":\"%s\"",
					aout_time(e->first_ns, t0, sizeof t0),
					aout_time(e->last_ns, t1, sizeof t1));
			else
				fputs("null,\"last\":null", out);
			fprintf(out, ",\"writing\":%s,\"error\":", e->writing ? "true" : "false");
			if (e->error)
				aout_json_str(out, e->error);
			else
				fputs("null", out);
			fputc('}', out);
		}
		fprintf(out, "%s]}\n", l->n ? "\n" : "");
		return;
	}
	fprintf(out, "Captures in %s: %zu file%s\n", dir, l->n, l->n == 1 ? "" : "s");
	if (!l->n)
		return;
	static const char *const heads[] = {"KIND",	    "NAME",	   "SIZE", "PACKETS",
					    "FIRST PACKET", "LAST PACKET", "STATE"};
	static const int right[] = {0, 0, 1, 1, 0, 0, 0};
	aout_table_t *t = aout_table_new(7, heads, right);
	uint64_t size = 0, pkts = 0;
	for (size_t i = 0; t && i < l->n; i++) {
		const struct alist_entry *e = &l->e[i];
		char sz[32], pk[32];
		aout_bytes(e->size, sz, sizeof sz);
		snprintf(pk, sizeof pk, "%llu", (unsigned long long)e->packets);
		const char *cells[] = {e->incident ? "incident" : "continuous",
				       e->name,
				       sz,
				       pk,
				       e->packets ? aout_time(e->first_ns, t0, sizeof t0) : "-",
				       e->packets ? aout_time(e->last_ns, t1, sizeof t1) : "-",
				       e->error	    ? "damaged"
				       : e->writing ? "writing"
						    : "finished"};
		aout_table_add(t, cells);
		size += e->size;
		pkts += e->packets;
	}
	if (t)
		aout_table_print(t, out, "");
	aout_table_free(t);
	char sz[32];
	fprintf(out, "Total: %s, %llu packets\n", aout_bytes(size, sz, sizeof sz),
		(unsigned long long)pkts);
}

void alist_free(struct alist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].path);
		free(l->e[i].name);
		free(l->e[i].error);
	}
	free(l->e);
	memset(l, 0, sizeof *l);
}
