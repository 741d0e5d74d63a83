-- The master store and the end-of-day bookkeeping on MySQL/MariaDB (see docs/data-model.md).

-- Every trading day's ticks after the end-of-day move, clustered by instrument.
CREATE TABLE ticks (
    `trade_date` DATE NOT NULL,
    `socket` SMALLINT NOT NULL,
    `seq` BIGINT NOT NULL,
    `instrument_token` BIGINT NOT NULL,
    `recv_time_us` BIGINT NOT NULL,
    `exchange_time` BIGINT,
    `last_trade_time` BIGINT,
    `mode` VARCHAR(16) NOT NULL,
    `price_divisor` INTEGER NOT NULL,
    `last_price` BIGINT NOT NULL,
    `last_quantity` BIGINT,
    `average_price` BIGINT,
    `volume` BIGINT,
    `buy_quantity` BIGINT,
    `sell_quantity` BIGINT,
    `open` BIGINT,
    `high` BIGINT,
    `low` BIGINT,
    `close` BIGINT,
    `net_change` BIGINT,
    `oi` BIGINT,
    `oi_day_high` BIGINT,
    `oi_day_low` BIGINT,
    `bid1_quantity` BIGINT,
    `bid1_price` BIGINT,
    `bid1_orders` INTEGER,
    `bid2_quantity` BIGINT,
    `bid2_price` BIGINT,
    `bid2_orders` INTEGER,
    `bid3_quantity` BIGINT,
    `bid3_price` BIGINT,
    `bid3_orders` INTEGER,
    `bid4_quantity` BIGINT,
    `bid4_price` BIGINT,
    `bid4_orders` INTEGER,
    `bid5_quantity` BIGINT,
    `bid5_price` BIGINT,
    `bid5_orders` INTEGER,
    `ask1_quantity` BIGINT,
    `ask1_price` BIGINT,
    `ask1_orders` INTEGER,
    `ask2_quantity` BIGINT,
    `ask2_price` BIGINT,
    `ask2_orders` INTEGER,
    `ask3_quantity` BIGINT,
    `ask3_price` BIGINT,
    `ask3_orders` INTEGER,
    `ask4_quantity` BIGINT,
    `ask4_price` BIGINT,
    `ask4_orders` INTEGER,
    `ask5_quantity` BIGINT,
    `ask5_price` BIGINT,
    `ask5_orders` INTEGER,
    PRIMARY KEY (trade_date, instrument_token, socket, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per date: rows the dedupe removed, over every run. Each removal adds to it in the same
-- transaction, so a rerun neither repeats nor loses a count.
CREATE TABLE eod_days (
    trade_date DATE NOT NULL PRIMARY KEY,
    removed_rows BIGINT NOT NULL
) ENGINE=InnoDB;

-- One row per end-of-day run (an interrupted one stays `interrupted`).
CREATE TABLE eod_runs (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    trade_date DATE NOT NULL,
    started_at_us BIGINT NOT NULL,
    finished_at_us BIGINT,
    status VARCHAR(16) NOT NULL,
    dedupe VARCHAR(16) NOT NULL,
    master_rows BIGINT,
    removed_rows BIGINT,
    instruments INTEGER,
    gap_minutes DOUBLE,
    duration_ms BIGINT,
    report LONGTEXT,
    KEY eod_runs_date (trade_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
