/*
 * currency_table.h - private to money.c and the generated currencies.c: the ISO 4217 table
 * that tools/gen_currencies.py writes, sorted by code. Both sides include this header so a
 * mismatch between the generator and money.c fails to compile.
 */
#ifndef TL_CORE_CURRENCY_TABLE_H
#define TL_CORE_CURRENCY_TABLE_H

#include "core/money.h"

extern const struct money_currency money_currency_table[];
extern const unsigned money_currency_table_count;

#endif
