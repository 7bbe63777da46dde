/* main.c - placeholder replaced by the CLI dispatcher. */
#include "weft.h"
#include <stdio.h>
int main(void) { printf("weft %s\n", weft_version()); return 0; }
