/*
 * tally-note - a reference client for Tally's end-to-end encrypted payment notes.
 *
 *   tally-note keygen SECRET_FILE   make an X25519 key pair: the secret key goes to SECRET_FILE
 *                                   (base64, mode 0600, never overwritten), the public key to
 *                                   stdout (what PUT /v1/me/encryption_key takes)
 *   tally-note public SECRET_FILE   print the public key of a secret key
 *   tally-note seal PUBLIC_KEY      seal the note on stdin (UTF-8, 1..280 code points; one
 *                                   trailing newline is dropped) to a public key (base64);
 *                                   prints the sealed box in base64 (a sealed_note copy)
 *   tally-note open SECRET_FILE     open the sealed box on stdin (base64) with a secret key;
 *                                   prints the note and a newline
 *
 * The format is docs/api.md "End-to-end encrypted notes": keys are 32 raw bytes, boxes are
 * libsodium crypto_box_seal (X25519, XSalsa20-Poly1305), everything travels as standard
 * base64 with padding. Exit status 0 on success, 1 on a usage error or bad input, 2 when a
 * box does not open with the key. Nothing here talks to a server.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOTE_CODE_POINTS_MAX 280u
#define NOTE_BYTES_MAX (4u * NOTE_CODE_POINTS_MAX)
#define BOX_BYTES_MAX (NOTE_BYTES_MAX + crypto_box_SEALBYTES)
#define BOX_TEXT_BYTES_MAX (((BOX_BYTES_MAX + 2u) / 3u) * 4u)
#define KEY_TEXT_BYTES (((crypto_box_PUBLICKEYBYTES + 2u) / 3u) * 4u)
#define VARIANT sodium_base64_VARIANT_ORIGINAL

static int usage(void)
{
    fputs("usage: tally-note keygen SECRET_FILE | public SECRET_FILE | seal PUBLIC_KEY |"
          " open SECRET_FILE\n",
          stderr);
    return 1;
}

static int fail(const char *message)
{
    fprintf(stderr, "tally-note: %s\n", message);
    return 1;
}

/* Reads all of stdin (at most max bytes, else false) into buf. */
static bool read_stdin(unsigned char *buf, size_t max, size_t *out_bytes)
{
    size_t n = 0;
    for (;;) {
        if (n == max) {
            return getchar() == EOF;
        }
        size_t got = fread(buf + n, 1, max - n, stdin);
        n += got;
        if (got == 0) {
            break;
        }
    }
    *out_bytes = n;
    return !ferror(stdin);
}

/* Strict base64 of exactly want bytes (want 0: any length up to max) into out. */
static bool decode(const char *text, size_t text_bytes, unsigned char *out, size_t max,
                   size_t want, size_t *out_bytes)
{
    const char *end = NULL;
    size_t bytes = 0;
    if (text_bytes == 0 || text_bytes % 4 != 0 ||
        sodium_base642bin(out, max, text, text_bytes, NULL, &bytes, &end, VARIANT) != 0 ||
        end != text + text_bytes || (want != 0 && bytes != want)) {
        return false;
    }
    *out_bytes = bytes;
    return true;
}

/* Text without trailing whitespace. */
static size_t trim(const char *text, size_t bytes)
{
    while (bytes > 0 && (text[bytes - 1] == '\n' || text[bytes - 1] == '\r' ||
                         text[bytes - 1] == ' ' || text[bytes - 1] == '\t')) {
        bytes--;
    }
    return bytes;
}

/* Code points of well-formed UTF-8 without NUL (no overlong forms, surrogates or values past
 * U+10FFFF), or -1. */
static long utf8_count(const unsigned char *s, size_t bytes)
{
    long count = 0;
    size_t i = 0;
    while (i < bytes) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || c == 0 || i + len > bytes) {
            return -1;
        }
        unsigned long cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return -1;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return -1;
        }
        i += len;
        count++;
    }
    return count;
}

/* The secret key in a file written by keygen. */
static bool secret_read(const char *path, unsigned char sk[crypto_box_SECRETKEYBYTES])
{
    char text[128];
    size_t bytes = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    size_t n = fread(text, 1, sizeof(text), f);
    fclose(f);
    bool ok = n < sizeof(text) && decode(text, trim(text, n), sk, crypto_box_SECRETKEYBYTES,
                                         crypto_box_SECRETKEYBYTES, &bytes);
    sodium_memzero(text, sizeof(text));
    return ok;
}

static void print_base64(const unsigned char *bin, size_t bytes)
{
    size_t text_bytes = sodium_base64_encoded_len(bytes, VARIANT);
    char *text = malloc(text_bytes);
    if (text == NULL) {
        abort();
    }
    sodium_bin2base64(text, text_bytes, bin, bytes, VARIANT);
    puts(text);
    free(text);
}

static int cmd_keygen(const char *path)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char sk[crypto_box_SECRETKEYBYTES];
    char text[KEY_TEXT_BYTES + 1];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "tally-note: %s: %s\n", path, strerror(errno));
        return 1;
    }
    crypto_box_keypair(pk, sk);
    sodium_bin2base64(text, sizeof(text), sk, sizeof(sk), VARIANT);
    text[KEY_TEXT_BYTES] = '\n';
    bool ok = write(fd, text, sizeof(text)) == (ssize_t)sizeof(text) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(text, sizeof(text));
    if (!ok) {
        return fail("cannot write the secret key");
    }
    print_base64(pk, sizeof(pk));
    return 0;
}

static int cmd_public(const char *path)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char sk[crypto_box_SECRETKEYBYTES];
    if (!secret_read(path, sk)) {
        return fail("cannot read a secret key (base64 of 32 bytes) from that file");
    }
    crypto_scalarmult_base(pk, sk);
    sodium_memzero(sk, sizeof(sk));
    print_base64(pk, sizeof(pk));
    return 0;
}

static int cmd_seal(const char *key_text)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char note[NOTE_BYTES_MAX + 2];
    unsigned char box[BOX_BYTES_MAX];
    size_t bytes = 0;
    if (!decode(key_text, strlen(key_text), pk, sizeof(pk), sizeof(pk), &bytes)) {
        return fail("the public key must be 32 bytes in standard base64 (44 characters)");
    }
    if (!read_stdin(note, sizeof(note), &bytes)) {
        return fail("the note is longer than 280 code points");
    }
    if (bytes > 0 && note[bytes - 1] == '\n') {
        bytes--;
    }
    long points = utf8_count(note, bytes);
    if (points < 1 || points > (long)NOTE_CODE_POINTS_MAX) {
        return fail("the note must be UTF-8 text of 1 to 280 code points");
    }
    if (crypto_box_seal(box, note, bytes, pk) != 0) {
        return fail("that public key cannot be sealed to");
    }
    sodium_memzero(note, sizeof(note));
    print_base64(box, bytes + crypto_box_SEALBYTES);
    return 0;
}

static int cmd_open(const char *path)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char sk[crypto_box_SECRETKEYBYTES];
    char text[BOX_TEXT_BYTES_MAX + 4];
    unsigned char box[BOX_BYTES_MAX];
    unsigned char note[NOTE_BYTES_MAX + 1];
    size_t text_bytes = 0;
    size_t box_bytes = 0;
    if (!secret_read(path, sk)) {
        return fail("cannot read a secret key (base64 of 32 bytes) from that file");
    }
    if (!read_stdin((unsigned char *)text, sizeof(text), &text_bytes) ||
        !decode(text, trim(text, text_bytes), box, sizeof(box), 0, &box_bytes) ||
        box_bytes <= crypto_box_SEALBYTES) {
        sodium_memzero(sk, sizeof(sk));
        return fail("stdin must be a sealed box in standard base64");
    }
    crypto_scalarmult_base(pk, sk);
    int rc = crypto_box_seal_open(note, box, box_bytes, pk, sk);
    sodium_memzero(sk, sizeof(sk));
    if (rc != 0) {
        fputs("tally-note: the box does not open with this key\n", stderr);
        return 2;
    }
    size_t note_bytes = box_bytes - crypto_box_SEALBYTES;
    fwrite(note, 1, note_bytes, stdout);
    putchar('\n');
    sodium_memzero(note, sizeof(note));
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return fail("libsodium did not start");
    }
    if (argc != 3) {
        return usage();
    }
    if (strcmp(argv[1], "keygen") == 0) {
        return cmd_keygen(argv[2]);
    }
    if (strcmp(argv[1], "public") == 0) {
        return cmd_public(argv[2]);
    }
    if (strcmp(argv[1], "seal") == 0) {
        return cmd_seal(argv[2]);
    }
    if (strcmp(argv[1], "open") == 0) {
        return cmd_open(argv[2]);
    }
    return usage();
}
