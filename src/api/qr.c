#include "api/qr.h"

#include <errno.h>
#include <qrencode.h>
#include <string.h>

#include "util/assert.h"

#define QR_QUIET_MODULES 4

/* One row of modules as runs of dark modules: "M<x> <y>h<n>v1h-<n>z" each. */
static enum tl_err qr_row(const QRcode *code, int y, struct buf *out)
{
    enum tl_err err = TL_OK;
    int x = 0;
    while (err == TL_OK && x < code->width) {
        if ((code->data[y * code->width + x] & 1u) == 0) {
            x++;
            continue;
        }
        int run = 0;
        while (x + run < code->width && (code->data[y * code->width + x + run] & 1u) != 0) {
            run++;
        }
        err = buf_printf(out, "M%d %dh%dv1h-%dz", x + QR_QUIET_MODULES, y + QR_QUIET_MODULES, run,
                         run);
        x += run;
    }
    return err;
}

enum tl_err qr_svg(const char *text, struct buf *out)
{
    TL_ASSERT(text != NULL);
    if (strlen(text) > QR_TEXT_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (code == NULL) {
        return errno == ERANGE ? TL_ERR_LIMIT : TL_ERR_NOMEM;
    }
    int size = code->width + 2 * QR_QUIET_MODULES;
    enum tl_err err = buf_printf(out,
                                 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                                 "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                                 "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                                 size, size, size, size);
    for (int y = 0; err == TL_OK && y < code->width; y++) {
        err = qr_row(code, y, out);
    }
    if (err == TL_OK) {
        err = buf_append_str(out, "\"/></svg>");
    }
    QRcode_free(code);
    return err;
}
