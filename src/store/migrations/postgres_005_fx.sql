-- Schema version 5 (part): exchange rates (api/fx.c, core/fx.h). Same table as SQLite's
-- sqlite_005_fx.sql: one row per pair, base -> quote = rate_num/rate_den exactly, the time it
-- was set, and who set it (1 the rates file, 2 the operator endpoint). Every node reads it.
CREATE TABLE fx_rates (
    base integer NOT NULL CHECK (base BETWEEN 1 AND 999),
    quote integer NOT NULL CHECK (quote BETWEEN 1 AND 999),
    rate_num bigint NOT NULL CHECK (rate_num > 0),
    rate_den bigint NOT NULL CHECK (rate_den > 0),
    updated_ns bigint NOT NULL CHECK (updated_ns > 0),
    source integer NOT NULL CHECK (source BETWEEN 1 AND 2),
    PRIMARY KEY (base, quote),
    CHECK (base <> quote)
);
