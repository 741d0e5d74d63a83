DROP VIEW ticks_v;
DROP VIEW daily_ticks_v;

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
