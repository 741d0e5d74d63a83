-- The daily table is the write path: the token index made every batch touch pages all over the
-- table (one insert point per instrument). Rows are appended in (trade_date, socket, seq) order
-- now; the end of day builds its own index for its run (daily_ticks_eod) and drops it
-- afterwards. Per-instrument reads during the day belong to the master table (clustered by
-- token) and the live feed.
DROP INDEX daily_ticks_token ON daily_ticks;
