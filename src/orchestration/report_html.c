/* caf report: text into HTML. Everything the page shows from files (names, messages, logs, paths) goes
 * through here, so no byte of it can open a tag or end an attribute. */
#include <stdio.h>

#include "orchestration/report_internal.h"

void report_html(FILE *out, const char *text)
{
    for (const unsigned char *c = (const unsigned char *)(text ? text : ""); *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            /* control characters but tab and newline would make the page invalid: shown as '?' */
            fputc(*c < 0x20 && *c != '\t' && *c != '\n' ? '?' : *c, out);
        }
    }
}
