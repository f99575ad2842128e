/*
 * analyze_out.c - see analyze.h (aout).
 *
 * DESIGN: a table collects its rows (the callers bound how many: top N, findings, files), then
 * measures each column and prints it padded, so columns line up whatever the values are. Widths
 * count UTF-8 characters, not bytes, so a file name with accents does not push its row out.
 */
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "outputs/flow_json.h"

#define AOUT_MAX_COLS 12

struct aout_table {
	int ncols;
	const char *heads[AOUT_MAX_COLS];
	int right[AOUT_MAX_COLS];
	char **cells; /* nrows * ncols */
	size_t nrows, cap;
};

aout_table_t *aout_table_new(int ncols, const char *const *heads, const int *right)
{
	struct aout_table *t;

	if (ncols < 1 || ncols > AOUT_MAX_COLS)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->ncols = ncols;
	for (int i = 0; i < ncols; i++) {
		t->heads[i] = heads[i];
		t->right[i] = right ? right[i] : 0;
	}
	return t;
}

int aout_table_add(aout_table_t *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 32;
		char **n = realloc(t->cells, nc * (size_t)t->ncols * sizeof *n);
		if (!n)
			return -1;
		t->cells = n;
		t->cap = nc;
	}
	char **row = t->cells + t->nrows * (size_t)t->ncols;
	for (int i = 0; i < t->ncols; i++) {
		row[i] = strdup(cells[i] ? cells[i] : "");
		if (!row[i]) {
			while (i-- > 0)
				free(row[i]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

/* Characters (UTF-8 lead bytes) in s. */
static size_t ao_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void ao_cell(FILE *out, const char *s, size_t width, int right, int last)
{
	size_t w = ao_width(s);
	size_t pad = width > w ? width - w : 0;

	if (right)
		fprintf(out, "%*s", (int)pad, "");
	fputs(s, out);
	if (!right && !last)
		fprintf(out, "%*s", (int)pad, "");
}

void aout_table_print(const aout_table_t *t, FILE *out, const char *indent)
{
	size_t width[AOUT_MAX_COLS];

	for (int c = 0; c < t->ncols; c++) {
		width[c] = ao_width(t->heads[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = ao_width(t->cells[r * (size_t)t->ncols + (size_t)c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	for (long r = -1; r < (long)t->nrows; r++) {
		fputs(indent ? indent : "", out);
		for (int c = 0; c < t->ncols; c++) {
			const char *s = r < 0 ? t->heads[c]
					      : t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
			if (c)
				fputs("  ", out);
			ao_cell(out, s, width[c], t->right[c], c == t->ncols - 1);
		}
		fputc('\n', out);
	}
}

void aout_table_free(aout_table_t *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t ao_utf8(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000;
	else
		return 0;
	unsigned v = c & (0x3fu >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

void aout_json_str(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p) {
		unsigned c = *p;
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc((int)c, out);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			p++;
		} else {
			size_t n = ao_utf8(p);
			if (n == 0) {
				fputs("\\ufffd", out);
				p++;
			} else {
				fwrite(p, 1, n, out);
				p += n;
			}
		}
	}
	fputc('"', out);
}

const char *aout_time(int64_t ts_ns, char *buf, size_t len)
{
	return flow_json_time(ts_ns, buf, len);
}

const char *aout_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
	double v = (double)n;
	int u = -1;

	if (n < 1000) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	while (v >= 999.95 && u < 5) {
		v /= 1000.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u < 0 ? 0 : u]);
	return buf;
}

const char *aout_addr(int ver, const uint8_t addr[16], char *buf, size_t len)
{
	return decode_addr_str(ver, addr, buf, (unsigned)len);
}
