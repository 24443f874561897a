#include "auth/common_passwords.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assert.h"

static_assert(COMMON_PASSWORDS_LIST_BYTES_MAX < UINT32_MAX, "offsets fit in 32 bits");
static_assert(COMMON_PASSWORDS_ENTRY_BYTES_MAX < UINT16_MAX, "lengths fit in 16 bits");

/* An open-addressing slot: entry_len == 0 means empty (empty lines are never entries). */
struct common_slot {
    uint32_t offset;
    uint16_t entry_len;
};

struct common_passwords {
    char *text; /* the list, ASCII-lowercased; entries point into it */
    size_t text_bytes;
    struct common_slot *slots;
    size_t slot_count; /* a power of two, at least twice the entry count */
    size_t entry_count;
};

static unsigned char common_fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the ASCII-folded bytes. The set's contents are fixed at startup, so an
 * unkeyed hash cannot be steered into long probe chains by clients. */
static uint64_t common_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= common_fold((unsigned char)s[i]);
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool common_equal_folded(const char *entry, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)entry[i] != common_fold((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* The slot holding s, or the empty slot where it belongs. */
static struct common_slot *common_find(const struct common_passwords *set, const char *s,
                                       size_t len)
{
    size_t mask = set->slot_count - 1;
    size_t i = (size_t)common_hash(s, len) & mask;
    for (;;) {
        struct common_slot *slot = &set->slots[i];
        if (slot->entry_len == 0) {
            return slot;
        }
        if (slot->entry_len == len && common_equal_folded(set->text + slot->offset, s, len)) {
            return slot;
        }
        i = (i + 1) & mask;
    }
}

/* Calls visit for each entry (offset, length) of text; stops at the first error. */
typedef enum tl_err (*common_visit_fn)(struct common_passwords *set, size_t offset, size_t len);

static enum tl_err common_each_line(struct common_passwords *set, common_visit_fn visit)
{
    size_t start = 0;
    while (start < set->text_bytes) {
        const char *nl = memchr(set->text + start, '\n', set->text_bytes - start);
        size_t end = nl == NULL ? set->text_bytes : (size_t)(nl - set->text);
        size_t len = end - start;
        if (len > 0 && set->text[start + len - 1] == '\r') {
            len--;
        }
        if (len > 0 && set->text[start] != '#') {
            enum tl_err err = visit(set, start, len);
            if (err != TL_OK) {
                return err;
            }
        }
        start = end + 1;
    }
    return TL_OK;
}

static enum tl_err common_count_entry(struct common_passwords *set, size_t offset, size_t len)
{
    (void)offset;
    if (len > COMMON_PASSWORDS_ENTRY_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    if (set->entry_count == COMMON_PASSWORDS_ENTRIES_MAX) {
        return TL_ERR_LIMIT;
    }
    set->entry_count++;
    return TL_OK;
}

static enum tl_err common_insert_entry(struct common_passwords *set, size_t offset, size_t len)
{
    struct common_slot *slot = common_find(set, set->text + offset, len);
    if (slot->entry_len == 0) {
        slot->offset = (uint32_t)offset;
        slot->entry_len = (uint16_t)len;
        set->entry_count++;
    }
    return TL_OK;
}

/* Takes ownership of text (malloc'd) whatever happens. */
static enum tl_err common_build(char *text, size_t text_bytes, struct common_passwords **out)
{
    enum tl_err err = TL_ERR_NOMEM;
    struct common_passwords *set = calloc(1, sizeof *set);
    if (set == NULL) {
        free(text);
        goto out;
    }
    set->text = text;
    set->text_bytes = text_bytes;
    for (size_t i = 0; i < text_bytes; i++) {
        text[i] = (char)common_fold((unsigned char)text[i]);
    }
    err = common_each_line(set, common_count_entry);
    if (err != TL_OK) {
        goto out;
    }
    set->slot_count = 16;
    while (set->slot_count < 2 * set->entry_count) {
        set->slot_count *= 2;
    }
    err = TL_ERR_NOMEM;
    set->slots = calloc(set->slot_count, sizeof *set->slots);
    if (set->slots == NULL) {
        goto out;
    }
    /* Counted again while inserting, so duplicate lines count once. */
    set->entry_count = 0;
    err = common_each_line(set, common_insert_entry);
    TL_ASSERT(err == TL_OK);
    TL_ASSERT(2 * set->entry_count <= set->slot_count);
    *out = set;
    set = NULL;
out:
    common_passwords_free(set);
    return err;
}

enum tl_err common_passwords_from_bytes(const char *list, size_t list_bytes,
                                        struct common_passwords **out)
{
    if (list_bytes > COMMON_PASSWORDS_LIST_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    /* One spare byte so an empty list still gets a non-NULL buffer. */
    char *text = malloc(list_bytes + 1);
    if (text == NULL) {
        return TL_ERR_NOMEM;
    }
    memcpy(text, list, list_bytes);
    return common_build(text, list_bytes, out);
}

enum tl_err common_passwords_from_file(const char *path, struct common_passwords **out)
{
    enum tl_err err = TL_ERR_IO;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        goto out;
    }
    err = TL_ERR_NOMEM;
    /* Reads one byte past the limit to tell "exactly the limit" from "over it". */
    text = malloc(COMMON_PASSWORDS_LIST_BYTES_MAX + 1);
    if (text == NULL) {
        goto out;
    }
    size_t got = fread(text, 1, COMMON_PASSWORDS_LIST_BYTES_MAX + 1, f);
    err = TL_ERR_IO;
    if (ferror(f)) {
        goto out;
    }
    err = TL_ERR_LIMIT;
    if (got > COMMON_PASSWORDS_LIST_BYTES_MAX) {
        goto out;
    }
    /* Give back the unused part of the buffer; on failure the larger block is still fine. */
    char *fitted = realloc(text, got + 1);
    if (fitted != NULL) {
        text = fitted;
    }
    err = common_build(text, got, out);
    text = NULL;
out:
    free(text);
    if (f != NULL) {
        fclose(f);
    }
    return err;
}

bool common_passwords_contains(const struct common_passwords *set, const char *password,
                               size_t password_bytes)
{
    if (password_bytes == 0 || password_bytes > COMMON_PASSWORDS_ENTRY_BYTES_MAX) {
        return false;
    }
    return common_find(set, password, password_bytes)->entry_len != 0;
}

size_t common_passwords_count(const struct common_passwords *set)
{
    return set->entry_count;
}

void common_passwords_free(struct common_passwords *set)
{
    if (set == NULL) {
        return;
    }
    free(set->slots);
    free(set->text);
    free(set);
}
