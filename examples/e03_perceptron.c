/* E03: see docs/tutorial.md and src/teach/notes.c (the tape) */
#include "notes_main.h"

int main(int argc, char **argv) { return notes_main("e03", NULL, argc, argv); }
