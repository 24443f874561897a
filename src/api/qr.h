/*
 * qr.h - a QR code as SVG text (libqrencode underneath; only qr.c includes it).
 *
 * Used for the otpauth:// URI of a TOTP enrolment, so the SVG holds a secret: callers never log
 * or store it. Error correction M, 8-bit mode, a 4-module quiet zone, one <path> of dark runs,
 * black on white, scalable (viewBox in modules).
 */
#ifndef TL_API_QR_H
#define TL_API_QR_H

#include "util/buf.h"
#include "util/err.h"

/* The longest text qr_svg encodes (a QR code holds more, but an otpauth URI is short). */
#define QR_TEXT_BYTES_MAX 512u

/* Appends the SVG of text to out. TL_ERR_LIMIT for text over QR_TEXT_BYTES_MAX or an SVG that
 * does not fit out; TL_ERR_NOMEM when libqrencode cannot allocate. */
enum tl_err qr_svg(const char *text, struct buf *out);

#endif
