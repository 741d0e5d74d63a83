-- The pipeline's tables (see docs/data-model.md).

-- One row per tick received: nothing is overwritten. Prices are the exchange's integers; divide
-- by price_divisor for rupees (view daily_ticks_v does it). Columns a packet does not carry are
-- NULL. (trade_date, socket, seq) is unique: seq = journal record offset * 65536 + packet index,
-- so replaying a journal inserts nothing twice.
CREATE TABLE daily_ticks (
    trade_date DATE NOT NULL,
    socket SMALLINT NOT NULL,
    seq BIGINT NOT NULL,
    instrument_token BIGINT NOT NULL,
    recv_time_us BIGINT NOT NULL,
    exchange_time BIGINT,
    last_trade_time BIGINT,
    mode TEXT NOT NULL,
    price_divisor INTEGER NOT NULL,
    last_price BIGINT NOT NULL,
    last_quantity BIGINT,
    average_price BIGINT,
    volume BIGINT,
    buy_quantity BIGINT,
    sell_quantity BIGINT,
    open BIGINT,
    high BIGINT,
    low BIGINT,
    close BIGINT,
    net_change BIGINT,
    oi BIGINT,
    oi_day_high BIGINT,
    oi_day_low BIGINT,
    bid1_quantity BIGINT,
    bid1_price BIGINT,
    bid1_orders INTEGER,
    bid2_quantity BIGINT,
    bid2_price BIGINT,
    bid2_orders INTEGER,
    bid3_quantity BIGINT,
    bid3_price BIGINT,
    bid3_orders INTEGER,
    bid4_quantity BIGINT,
    bid4_price BIGINT,
    bid4_orders INTEGER,
    bid5_quantity BIGINT,
    bid5_price BIGINT,
    bid5_orders INTEGER,
    ask1_quantity BIGINT,
    ask1_price BIGINT,
    ask1_orders INTEGER,
    ask2_quantity BIGINT,
    ask2_price BIGINT,
    ask2_orders INTEGER,
    ask3_quantity BIGINT,
    ask3_price BIGINT,
    ask3_orders INTEGER,
    ask4_quantity BIGINT,
    ask4_price BIGINT,
    ask4_orders INTEGER,
    ask5_quantity BIGINT,
    ask5_price BIGINT,
    ask5_orders INTEGER,
    PRIMARY KEY (trade_date, socket, seq)
);
CREATE INDEX daily_ticks_token ON daily_ticks (trade_date, instrument_token, exchange_time);

-- Per socket and trading date, the journal offset up to which rows are committed; written in
-- the same transaction as the rows.
CREATE TABLE journal_positions (
    trade_date DATE NOT NULL,
    socket SMALLINT NOT NULL,
    committed_offset BIGINT NOT NULL,
    PRIMARY KEY (trade_date, socket)
);

-- The day's instruments as resolved from the dump.
CREATE TABLE instruments (
    trade_date DATE NOT NULL,
    instrument_token BIGINT NOT NULL,
    tradingsymbol TEXT NOT NULL,
    name TEXT NOT NULL,
    expiry DATE,
    strike DOUBLE NOT NULL,
    instrument_type TEXT NOT NULL,
    segment TEXT NOT NULL,
    exchange TEXT NOT NULL,
    lot_size INTEGER NOT NULL,
    tick_size DOUBLE NOT NULL,
    socket SMALLINT,
    mode TEXT,
    PRIMARY KEY (trade_date, instrument_token)
);

-- Every interval in which a socket was not delivering.
CREATE TABLE gaps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trade_date DATE NOT NULL,
    socket SMALLINT NOT NULL,
    start_us BIGINT NOT NULL,
    end_us BIGINT NOT NULL,
    cause TEXT NOT NULL,
    instruments INTEGER NOT NULL
);
CREATE INDEX gaps_date ON gaps (trade_date, socket);

CREATE VIEW daily_ticks_v AS
SELECT t.trade_date, t.socket, t.seq, t.instrument_token, i.tradingsymbol,
       datetime(t.recv_time_us / 1000000, 'unixepoch') AS recv_time_utc,
       datetime(t.exchange_time, 'unixepoch', '+05:30') AS exchange_time_ist,
       t.mode,
       t.last_price * 1.0 / t.price_divisor AS last_price,
       t.last_quantity, t.volume,
       t.bid1_price * 1.0 / t.price_divisor AS bid1, t.ask1_price * 1.0 / t.price_divisor AS ask1,
       t.oi
FROM daily_ticks t
LEFT JOIN instruments i ON i.trade_date = t.trade_date AND i.instrument_token = t.instrument_token;
