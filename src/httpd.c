/* httpd.c - PLACEHOLDER while the HTTP API is being written (see httpd.h); replaced wholesale. */
#include <stdio.h>
#include "httpd.h"
httpd_t *httpd_start(const struct httpd_config *c, char *err, size_t errlen)
{ (void)c; snprintf(err, errlen, "HTTP API not built yet"); return NULL; }
const char *httpd_address(const httpd_t *h) { (void)h; return ""; }
void httpd_stop(httpd_t *h) { (void)h; }
