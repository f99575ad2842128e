/*
 * webui.h - the web console's files (web/), built into the binary.
 *
 * DESIGN: the console is plain HTML, CSS and JavaScript with no build step and no external
 * requests; webui.c embeds the files of the web/ folder into the binary at compile time (.incbin), so the
 * agent serves them from memory at `/' with the HTTP API. The console talks to the API with the
 * bearer token the operator signs in with.
 */
#ifndef RINGCAP_WEBUI_H
#define RINGCAP_WEBUI_H

#include <stddef.h>

struct webui_asset {
	const char *path;         /* "/", "/app.js", "/style.css", ... */
	const char *content_type; /* "text/html; charset=utf-8", ... */
	const unsigned char *data;
	size_t len;
};

/* The asset served at path (the request path without query string), or NULL. */
const struct webui_asset *webui_find(const char *path);

#endif
