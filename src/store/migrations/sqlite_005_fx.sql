-- Schema version 5 (part): exchange rates (api/fx.c, core/fx.h).
--
-- One row per currency pair (ISO 4217 numbers): one major unit of base buys rate_num/rate_den
-- major units of quote, exactly (rate_den is a power of ten: the rate as the operator wrote
-- it, a decimal). updated_ns is when the rate was set (a rates file's rates carry the file's
-- modification time), and a conversion refuses a rate older than fx.rates_max_age_s. source
-- says who set it: 1 the rates file, 2 the operator endpoint. A put replaces a row only with a
-- newer one, so a rates file read again never undoes a newer rate set through the endpoint.
-- Every node reads rates from here, so a rate set on one node is used by all of them.
CREATE TABLE fx_rates (
    base INTEGER NOT NULL CHECK (base BETWEEN 1 AND 999),
    quote INTEGER NOT NULL CHECK (quote BETWEEN 1 AND 999),
    rate_num INTEGER NOT NULL CHECK (rate_num > 0),
    rate_den INTEGER NOT NULL CHECK (rate_den > 0),
    updated_ns INTEGER NOT NULL,
    source INTEGER NOT NULL CHECK (source BETWEEN 1 AND 2),
    PRIMARY KEY (base, quote),
    CHECK (base <> quote)
) STRICT;
