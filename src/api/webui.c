/*
 * webui.c - the web console's files (web/), embedded in the binary.
 *
 * DESIGN: each file of web/ is pulled into .rodata by the assembler (.incbin in the top-level
 * __asm__ block below; make runs from the repository root, so the paths are relative to it, and
 * the Makefile rebuilds this object when a file of web/ changes). Each file gets a start and an
 * end symbol, hidden so they never leave the executable. The table maps request paths to the
 * files and their content types; the lengths (end - start) are link-time values, so the assets
 * are filled in once, on first use.
 */
#include <pthread.h>
#include <string.h>

#include "api/webui.h"

/* WEBUI_FILE(name, "web/file"): symbols webui_NAME_start and webui_NAME_end around the bytes. */
#define WEBUI_FILE(name, file)                              \
	".balign 16\n"                                      \
	".globl webui_" #name "_start\n"                    \
	".hidden webui_" #name "_start\n"                   \
	".type webui_" #name "_start, @object\n"            \
	"webui_" #name "_start:\n"                          \
	".incbin \"" file "\"\n"                            \
	".globl webui_" #name "_end\n"                      \
	".hidden webui_" #name "_end\n"                     \
	"webui_" #name "_end:\n"                            \
	".byte 0\n" /* a NUL after each file; not part of it */

__asm__(".pushsection .rodata\n"
	WEBUI_FILE(index_html, "web/index.html")
	WEBUI_FILE(app_js, "web/app.js")
	WEBUI_FILE(style_css, "web/style.css")
	WEBUI_FILE(favicon_svg, "web/favicon.svg")
	".popsection\n");

#define WEBUI_DECL(name)                                                                  \
	extern const unsigned char webui_##name##_start[] __attribute__((visibility("hidden"))); \
	extern const unsigned char webui_##name##_end[] __attribute__((visibility("hidden")))

WEBUI_DECL(index_html);
WEBUI_DECL(app_js);
WEBUI_DECL(style_css);
WEBUI_DECL(favicon_svg);

#define CT_HTML "text/html; charset=utf-8"
#define CT_JS "text/javascript; charset=utf-8"
#define CT_CSS "text/css; charset=utf-8"
#define CT_SVG "image/svg+xml"

static const struct {
	const char *path;
	const char *content_type;
	const unsigned char *start, *end;
} files[] = {
	{ "/", CT_HTML, webui_index_html_start, webui_index_html_end },
	{ "/index.html", CT_HTML, webui_index_html_start, webui_index_html_end },
	{ "/app.js", CT_JS, webui_app_js_start, webui_app_js_end },
	{ "/style.css", CT_CSS, webui_style_css_start, webui_style_css_end },
	{ "/favicon.svg", CT_SVG, webui_favicon_svg_start, webui_favicon_svg_end },
};
#define NFILES (sizeof files / sizeof files[0])

static struct webui_asset assets[NFILES];
static pthread_once_t assets_once = PTHREAD_ONCE_INIT;

static void assets_init(void)
{
	for (size_t i = 0; i < NFILES; i++) {
		assets[i].path = files[i].path;
		assets[i].content_type = files[i].content_type;
		assets[i].data = files[i].start;
		assets[i].len = (size_t)(files[i].end - files[i].start);
	}
}

const struct webui_asset *webui_find(const char *path)
{
	if (!path)
		return NULL;
	pthread_once(&assets_once, assets_init);
	for (size_t i = 0; i < NFILES; i++)
		if (strcmp(path, assets[i].path) == 0)
			return &assets[i];
	return NULL;
}
