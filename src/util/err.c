#include "util/err.h"

#include "util/assert.h"

struct err_row {
    const char *code;
    const char *title;
    int http_status;
};

static const struct err_row err_rows[TL_ERR_COUNT] = {
#define TL_ERR_ROW(e, code, status, title) [e] = {code, title, status},
    TL_ERR_TABLE(TL_ERR_ROW)
#undef TL_ERR_ROW
};

const char *tl_err_code(enum tl_err err)
{
    TL_ASSERT((unsigned)err < TL_ERR_COUNT);
    return err_rows[err].code;
}

const char *tl_err_title(enum tl_err err)
{
    TL_ASSERT((unsigned)err < TL_ERR_COUNT);
    return err_rows[err].title;
}

int tl_err_http_status(enum tl_err err)
{
    TL_ASSERT((unsigned)err < TL_ERR_COUNT);
    return err_rows[err].http_status;
}
