-- Back to one position per socket: the latest generation's (older ones are fully replayed).
CREATE TABLE journal_positions_old (
    trade_date DATE NOT NULL,
    socket SMALLINT NOT NULL,
    committed_offset BIGINT NOT NULL,
    PRIMARY KEY (trade_date, socket)
);
INSERT INTO journal_positions_old (trade_date, socket, committed_offset)
    SELECT trade_date, socket, committed_offset FROM journal_positions p
    WHERE generation = (SELECT MAX(generation) FROM journal_positions q
                        WHERE q.trade_date = p.trade_date AND q.socket = p.socket);
DROP TABLE journal_positions;
ALTER TABLE journal_positions_old RENAME TO journal_positions;
