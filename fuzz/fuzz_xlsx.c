/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xlsx.c - libFuzzer target for the xlsx reader (src/job/xlsx_read.c).
 * An input whose first byte is even is a whole .xlsx file (libzip's
 * parsing and the reader's handling of missing or odd parts); otherwise the
 * rest is split at its first NUL into the shared strings part and the
 * sheet part of an otherwise valid workbook, so most runs reach the XML
 * handlers.  Every row of every sheet is read and each cell's text touched.
 * `make fuzz FUZZ_SECONDS=60` builds and runs it.
 */
#include "job/xlsx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static const char wb[] = "<workbook xmlns:r=\"r\"><sheets><sheet name=\"A\" sheetId=\"1\" r:id=\"rId1\"/>"
                         "<sheet name=\"B\" sheetId=\"2\" r:id=\"rId2\"/></sheets></workbook>";
static const char rels[] = "<Relationships>"
                           "<Relationship Id=\"rId1\" Type=\"x/worksheet\" Target=\"worksheets/a.xml\"/>"
                           "<Relationship Id=\"rId2\" Type=\"x/worksheet\" Target=\"/xl/worksheets/b.xml\"/>"
                           "<Relationship Id=\"rId3\" Type=\"x/sharedStrings\" Target=\"sharedStrings.xml\"/>"
                           "</Relationships>";

static int add(zip_t *z, const char *name, const void *p, size_t n)
{
    zip_source_t *s = zip_source_buffer(z, p, n, 0);
    if (!s) return -1;
    zip_int64_t i = zip_file_add(z, name, s, 0);
    if (i < 0) {
        zip_source_free(s);
        return -1;
    }
    /* Stored, not deflated: the time goes to the reader, not to zlib. */
    return zip_set_file_compression(z, (zip_uint64_t)i, ZIP_CM_STORE, 0) == 0 ? 0 : -1;
}

/* Writes a workbook around the sheet and shared strings parts to `path`. */
static int make_workbook(const char *path, const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t nsst = nul ? (size_t)(nul - data) : 0;
    const uint8_t *sheet = nul ? nul + 1 : data;
    size_t nsheet = size - (size_t)(sheet - data);
    int ze;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    if (!z) return -1;
    if (add(z, "xl/workbook.xml", wb, sizeof wb - 1) || add(z, "xl/_rels/workbook.xml.rels", rels, sizeof rels - 1) ||
        add(z, "xl/sharedStrings.xml", data, nsst) || add(z, "xl/worksheets/a.xml", sheet, nsheet) ||
        add(z, "xl/worksheets/b.xml", sheet, nsheet)) {
        zip_discard(z);
        return -1;
    }
    return zip_close(z) == 0 ? 0 : -1;
}

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_xlsx.%ld.xlsx", (long)getpid());
        atexit(remove_file);
    }
    if (size == 0) return 0;
    if (data[0] % 2 == 0) {
        FILE *f = fopen(path, "wb");
        if (!f) return 0;
        fwrite(data + 1, 1, size - 1, f);
        fclose(f);
    } else if (make_workbook(path, data + 1, size - 1) < 0) {
        return 0;
    }
    char err[WEFT_ERRBUF_SIZE];
    weft__xlsx *x;
    if (weft__xlsx_open(path, &x, err) != WEFT_OK) return 0;
    size_t ns;
    const char *const *names = weft__xlsx_sheets(x, &ns);
    for (size_t i = 0; i < ns; i++) {
        if (weft__xlsx_select(x, names[i], err) != WEFT_OK) continue;
        const weft_cell *c;
        size_t n;
        while (weft__xlsx_next(x, &c, &n, err) == 1)
            for (size_t j = 0; j < n; j++) sink += (uint64_t)c[j].type + (unsigned char)c[j].text[0];
    }
    weft__xlsx_close(x);
    return 0;
}
