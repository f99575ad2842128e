/* cmd_vault.c - PLACEHOLDER; replaced wholesale. */
#include <stdio.h>
#include "cmd.h"
int cmd_keys_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not built yet\n"); return 1; }
int cmd_retention_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not built yet\n"); return 1; }
