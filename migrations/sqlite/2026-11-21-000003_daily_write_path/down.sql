CREATE INDEX daily_ticks_token ON daily_ticks (trade_date, instrument_token, exchange_time);
