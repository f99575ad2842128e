/*
 * test_webui.c - the embedded console: "/" is the HTML page, every asset is there, non-empty and
 * byte for byte the file in web/, with its content type; anything else is NULL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhelp.h"
#include "api/webui.h"

static const struct {
	const char *path, *file, *ctype;
} want[] = {
	{ "/", "web/index.html", "text/html; charset=utf-8" },
	{ "/index.html", "web/index.html", "text/html; charset=utf-8" },
	{ "/app.js", "web/app.js", "text/javascript; charset=utf-8" },
	{ "/style.css", "web/style.css", "text/css; charset=utf-8" },
	{ "/favicon.svg", "web/favicon.svg", "image/svg+xml" },
};

/* Reads a whole file (the test runs from the repository root); NULL if missing. */
static unsigned char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

static void test_root_is_html(void)
{
	const struct webui_asset *a = webui_find("/");

	CHECK(a != NULL);
	if (!a)
		return;
	CHECK_EQ_STR(a->path, "/");
	CHECK_EQ_STR(a->content_type, "text/html; charset=utf-8");
	CHECK(a->len > 100);
	CHECK(memcmp(a->data, "<!doctype html>", 15) == 0);
	/* the page loads its script and style from the agent itself, with no inline script */
	CHECK(memmem(a->data, a->len, "<script src=\"app.js\"", 20) != NULL);
	CHECK(memmem(a->data, a->len, "href=\"style.css\"", 16) != NULL);
	CHECK(memmem(a->data, a->len, "<script>", 8) == NULL);
	CHECK(memmem(a->data, a->len, "style=\"", 7) == NULL);
	CHECK(memmem(a->data, a->len, "http://", 7) == NULL);
	CHECK(memmem(a->data, a->len, "https://", 8) == NULL);
}

static void test_every_asset_is_the_file(void)
{
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct webui_asset *a = webui_find(want[i].path);
		size_t n = 0;
		unsigned char *file = slurp(want[i].file, &n);

		CHECK(a != NULL);
		CHECK(file != NULL);
		if (a && file) {
			CHECK_EQ_STR(a->path, want[i].path);
			CHECK_EQ_STR(a->content_type, want[i].ctype);
			CHECK(a->len > 0);
			CHECK_EQ_INT(a->len, n);
			CHECK(a->len == n && memcmp(a->data, file, n) == 0);
		}
		free(file);
	}
}

static void test_unknown_paths(void)
{
	static const char *const bad[] = {
		"", "/nope", "/app.js/", "/APP.JS", "/index.htm", "app.js", "/web/app.js",
		"/../web/app.js", "/api/v1/status", "//", "/style.css?x=1", "/favicon.ico",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(webui_find(bad[i]) == NULL);
	CHECK(webui_find(NULL) == NULL);
}

int main(void)
{
	th_suite = "unit/test_webui";
	RUN(test_root_is_html);
	RUN(test_every_asset_is_the_file);
	RUN(test_unknown_paths);
	return test_main_end();
}
