"""Reads a tickvault export with the tools analysts use (pyarrow, polars, duckdb, pandas) and
prints what each sees as JSON: rows per instrument, the received_at column's time zone, and the
last price of a few (instrument_token, received_at µs) keys.

Usage: read_export.py DATASET_DIR DATE KEYS_JSON
(KEYS_JSON: a list of [token, received_at_us] pairs to look up.)
"""

import json
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds


def main():
    root, date, keys = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    part = f"{root}/date={date}"
    out = {}

    # pyarrow: the Hive-partitioned dataset.
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    counts = table.group_by("instrument_token").aggregate([("instrument_token", "count")])
    out["pyarrow"] = {
        "counts": {str(t): n for t, n in zip(counts["instrument_token"].to_pylist(),
                                             counts["instrument_token_count"].to_pylist())},
        "zone": table.schema.field("received_at").type.tz,
    }

    # polars: the date's directory, as the README shows.
    df = pl.read_parquet(part)
    grouped = df.group_by("instrument_token").len()
    us = df.select(pl.col("received_at").dt.epoch("us")).to_series().to_list()
    prices = {}
    wanted = {(t, u) for t, u in keys}
    for token, recv, price in zip(df["instrument_token"].to_list(), us, df["last_price"].to_list()):
        if (token, recv) in wanted:
            prices[f"{token}:{recv}"] = str(price)
    out["polars"] = {
        "counts": {str(t): n for t, n in zip(grouped["instrument_token"].to_list(),
                                             grouped["len"].to_list())},
        "zone": str(df.schema["received_at"].time_zone),
        "prices": prices,
    }

    # duckdb: SQL over the files.
    rows = duckdb.sql(
        f"select instrument_token, count(*) from '{root}/*/*.parquet' group by 1"
    ).fetchall()
    zone = duckdb.sql(
        f"select typeof(received_at) from '{part}/*.parquet' limit 1"
    ).fetchall()[0][0]
    out["duckdb"] = {"counts": {str(t): n for t, n in rows}, "zone": zone}

    # pandas.
    pdf = pd.read_parquet(part)
    out["pandas"] = {
        "counts": {str(t): int(n) for t, n in pdf.groupby("instrument_token").size().items()},
        "zone": str(pdf["received_at"].dt.tz),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
