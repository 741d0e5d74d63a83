-- Per date and instrument: the master rows the end of day last verified. A later run of the
-- same date (a run killed while clearing, or one that moves rows replayed after the first)
-- checks the master against it: the master may hold no more than these rows plus the daily
-- rows, and never fewer than these.
CREATE TABLE eod_verified (
    trade_date DATE NOT NULL,
    instrument_token BIGINT NOT NULL,
    master_rows BIGINT NOT NULL,
    PRIMARY KEY (trade_date, instrument_token)
) ENGINE=InnoDB;
