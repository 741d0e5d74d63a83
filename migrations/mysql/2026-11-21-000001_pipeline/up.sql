-- The pipeline's tables on MySQL/MariaDB: the same model as migrations/sqlite (see
-- docs/data-model.md). InnoDB, utf8mb4.

-- One row per tick received: nothing is overwritten. Prices are the exchange's integers; divide
-- by price_divisor for rupees (view daily_ticks_v does it). (trade_date, socket, seq) is unique:
-- seq = journal record offset * 65536 + packet index, so replaying a journal inserts nothing twice.
CREATE TABLE daily_ticks (
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
    PRIMARY KEY (trade_date, socket, seq),
    KEY daily_ticks_token (trade_date, instrument_token, exchange_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per socket and trading date, the journal offset up to which rows are committed.
CREATE TABLE journal_positions (
    trade_date DATE NOT NULL,
    socket SMALLINT NOT NULL,
    committed_offset BIGINT NOT NULL,
    PRIMARY KEY (trade_date, socket)
) ENGINE=InnoDB;

-- The day's instruments as resolved from the dump.
CREATE TABLE instruments (
    trade_date DATE NOT NULL,
    instrument_token BIGINT NOT NULL,
    tradingsymbol VARCHAR(64) NOT NULL,
    name VARCHAR(128) NOT NULL,
    expiry DATE,
    strike DOUBLE NOT NULL,
    instrument_type VARCHAR(16) NOT NULL,
    segment VARCHAR(16) NOT NULL,
    exchange VARCHAR(16) NOT NULL,
    lot_size INTEGER NOT NULL,
    tick_size DOUBLE NOT NULL,
    socket SMALLINT,
    `mode` VARCHAR(16),
    PRIMARY KEY (trade_date, instrument_token)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every interval in which a socket was not delivering.
CREATE TABLE gaps (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    trade_date DATE NOT NULL,
    socket SMALLINT NOT NULL,
    start_us BIGINT NOT NULL,
    end_us BIGINT NOT NULL,
    cause VARCHAR(32) NOT NULL,
    instruments INTEGER NOT NULL,
    KEY gaps_date (trade_date, socket)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE VIEW daily_ticks_v AS
SELECT t.trade_date, t.socket, t.seq, t.instrument_token, i.tradingsymbol,
       FROM_UNIXTIME(t.recv_time_us DIV 1000000) AS recv_time_utc,
       FROM_UNIXTIME(t.exchange_time) AS exchange_time,
       t.`mode`,
       t.last_price / t.price_divisor AS last_price,
       t.last_quantity, t.volume,
       t.bid1_price / t.price_divisor AS bid1, t.ask1_price / t.price_divisor AS ask1,
       t.oi
FROM daily_ticks t
LEFT JOIN instruments i ON i.trade_date = t.trade_date AND i.instrument_token = t.instrument_token;
