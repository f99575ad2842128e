/* cmd_serve.c - PLACEHOLDER (see httpd.h); replaced wholesale. */
#include <stdio.h>
#include "cmd.h"
int cmd_serve_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not built yet\n"); return 1; }
int cmd_url_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not built yet\n"); return 1; }
int cmd_token_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not built yet\n"); return 1; }
