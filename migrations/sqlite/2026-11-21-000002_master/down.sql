DROP TABLE eod_runs;
DROP TABLE eod_days;
DROP TABLE ticks;
