/* cmd_audit.c - PLACEHOLDER (see audit.h); replaced wholesale. */
#include <stdio.h>
#include "cmd.h"
int cmd_audit_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not built yet\n"); return 1; }
