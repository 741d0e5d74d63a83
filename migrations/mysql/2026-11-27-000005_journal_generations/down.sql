-- Back to one position per socket: the latest generation's.
DELETE p FROM journal_positions p
    JOIN journal_positions q
      ON q.trade_date = p.trade_date AND q.socket = p.socket AND q.generation > p.generation;
ALTER TABLE journal_positions
    DROP PRIMARY KEY,
    DROP COLUMN generation,
    ADD PRIMARY KEY (trade_date, socket);
