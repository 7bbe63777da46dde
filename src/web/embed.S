/* SPDX-License-Identifier: MIT */
/*
 * embed.S - the page's files (src/web/assets/), embedded in the library at
 * build time, each followed by a NUL byte: the server never reads a file to
 * answer a request.  make runs the assembler from the top of the tree.
 */
#define ASSET(name, file)                   \
    .global name; .hidden name;             \
    .type name, @object; .balign 16;        \
name: .incbin file; .byte 0;                \
    .global name##_end; .hidden name##_end; \
name##_end:

    .section .rodata
ASSET(weft__asset_html, "src/web/assets/index.html")
ASSET(weft__asset_css, "src/web/assets/app.css")
ASSET(weft__asset_js, "src/web/assets/app.js")
    .section .note.GNU-stack, "", @progbits
