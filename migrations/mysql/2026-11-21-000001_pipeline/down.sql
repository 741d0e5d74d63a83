DROP VIEW daily_ticks_v;
DROP TABLE gaps;
DROP TABLE instruments;
DROP TABLE journal_positions;
DROP TABLE daily_ticks;
