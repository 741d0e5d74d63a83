-- Journal generations (docs/data-model.md): each socket's journal of a date is a series of
-- files, one per process run; a committed position names the file by its generation. Rows
-- need no change: their seq already packs the generation (0 for every row written before).
ALTER TABLE journal_positions
    ADD COLUMN generation SMALLINT NOT NULL DEFAULT 0 AFTER socket,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (trade_date, socket, generation);
