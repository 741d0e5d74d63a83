DROP VIEW ticks_v;
DROP VIEW daily_ticks_v;

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
