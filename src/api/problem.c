#include "api/problem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assert.h"

int problem_status(enum tl_err err)
{
    return tl_err_http_status(err);
}

static json_t *problem_build(enum tl_err err, const char *param, const char *detail,
                             const char *request_id)
{
    char type[128];
    int n = snprintf(type, sizeof(type), PROBLEM_TYPE_PREFIX "%s", tl_err_code(err));
    TL_ASSERT(n > 0 && (size_t)n < sizeof(type));
    json_t *problem = json_object();
    if (problem == NULL) {
        return NULL;
    }
    int rc = json_object_set_new(problem, "type", json_string(type));
    rc |= json_object_set_new(problem, "title", json_string(tl_err_title(err)));
    rc |= json_object_set_new(problem, "status", json_integer(problem_status(err)));
    rc |= json_object_set_new(problem, "detail",
                              json_string(detail != NULL ? detail : tl_err_title(err)));
    rc |= json_object_set_new(problem, "code", json_string(tl_err_code(err)));
    if (param != NULL && param[0] != '\0') {
        rc |= json_object_set_new(problem, "param", json_string(param));
    }
    if (request_id != NULL && request_id[0] != '\0') {
        rc |= json_object_set_new(problem, "request_id", json_string(request_id));
    }
    /* json_string refuses invalid UTF-8; such a param or detail is our bug or a client's
     * bytes we echoed, and either way the problem is sent without it rather than not at all. */
    if (rc != 0) {
        json_decref(problem);
        return NULL;
    }
    return problem;
}

enum tl_err problem_render(struct buf *out, enum tl_err err, const char *param, const char *detail,
                           const char *request_id, int *out_status)
{
    TL_ASSERT(err != TL_OK);
    TL_ASSERT((unsigned)err < TL_ERR_COUNT);
    *out_status = problem_status(err);
    json_t *problem = problem_build(err, param, detail, request_id);
    if (problem == NULL) {
        problem = problem_build(err, NULL, NULL, request_id);
    }
    if (problem == NULL) {
        return TL_ERR_NOMEM;
    }
    enum tl_err result = TL_ERR_NOMEM;
    char *text = json_dumps(problem, JSON_COMPACT);
    if (text != NULL) {
        result = buf_append_str(out, text);
        free(text);
    }
    json_decref(problem);
    return result;
}
