-- Journal generations (docs/data-model.md): each socket's journal of a date is a series of
-- files, one per process run; a committed position names the file by its generation. Rows
-- need no change: their seq already packs the generation (0 for every row written before).
CREATE TABLE journal_positions_new (
    trade_date DATE NOT NULL,
    socket SMALLINT NOT NULL,
    generation SMALLINT NOT NULL DEFAULT 0,
    committed_offset BIGINT NOT NULL,
    PRIMARY KEY (trade_date, socket, generation)
);
INSERT INTO journal_positions_new (trade_date, socket, generation, committed_offset)
    SELECT trade_date, socket, 0, committed_offset FROM journal_positions;
DROP TABLE journal_positions;
ALTER TABLE journal_positions_new RENAME TO journal_positions;
