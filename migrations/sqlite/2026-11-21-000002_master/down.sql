DROP TABLE eod_runs;
DROP TABLE eod_instruments;
DROP TABLE ticks;
