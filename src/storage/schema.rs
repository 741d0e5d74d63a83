//! Diesel's view of the tables (`migrations/sqlite/`, `migrations/mysql/`): one `table!` per
//! table.

/// Declares a table with the tick columns (the daily table and the master share them, in the
/// same order, so rows move between them column for column).
macro_rules! tick_table {
    ($(#[$doc:meta])* $name:ident ($($key:ident),+)) => {
        diesel::table! {
            $(#[$doc])*
            $name ($($key),+) {
                trade_date -> Date,
                socket -> SmallInt,
                seq -> BigInt,
                instrument_token -> BigInt,
                recv_time_us -> BigInt,
                exchange_time -> Nullable<BigInt>,
                last_trade_time -> Nullable<BigInt>,
                mode -> Text,
                price_divisor -> Integer,
                last_price -> BigInt,
                last_quantity -> Nullable<BigInt>,
                average_price -> Nullable<BigInt>,
                volume -> Nullable<BigInt>,
                buy_quantity -> Nullable<BigInt>,
                sell_quantity -> Nullable<BigInt>,
                open -> Nullable<BigInt>,
                high -> Nullable<BigInt>,
                low -> Nullable<BigInt>,
                close -> Nullable<BigInt>,
                net_change -> Nullable<BigInt>,
                oi -> Nullable<BigInt>,
                oi_day_high -> Nullable<BigInt>,
                oi_day_low -> Nullable<BigInt>,
                bid1_quantity -> Nullable<BigInt>,
                bid1_price -> Nullable<BigInt>,
                bid1_orders -> Nullable<Integer>,
                bid2_quantity -> Nullable<BigInt>,
                bid2_price -> Nullable<BigInt>,
                bid2_orders -> Nullable<Integer>,
                bid3_quantity -> Nullable<BigInt>,
                bid3_price -> Nullable<BigInt>,
                bid3_orders -> Nullable<Integer>,
                bid4_quantity -> Nullable<BigInt>,
                bid4_price -> Nullable<BigInt>,
                bid4_orders -> Nullable<Integer>,
                bid5_quantity -> Nullable<BigInt>,
                bid5_price -> Nullable<BigInt>,
                bid5_orders -> Nullable<Integer>,
                ask1_quantity -> Nullable<BigInt>,
                ask1_price -> Nullable<BigInt>,
                ask1_orders -> Nullable<Integer>,
                ask2_quantity -> Nullable<BigInt>,
                ask2_price -> Nullable<BigInt>,
                ask2_orders -> Nullable<Integer>,
                ask3_quantity -> Nullable<BigInt>,
                ask3_price -> Nullable<BigInt>,
                ask3_orders -> Nullable<Integer>,
                ask4_quantity -> Nullable<BigInt>,
                ask4_price -> Nullable<BigInt>,
                ask4_orders -> Nullable<Integer>,
                ask5_quantity -> Nullable<BigInt>,
                ask5_price -> Nullable<BigInt>,
                ask5_orders -> Nullable<Integer>,
            }
        }
    };
}

tick_table! {
    /// One row per tick received (see `docs/data-model.md`).
    daily_ticks (trade_date, socket, seq)
}

tick_table! {
    /// The master store: every day's ticks after the end-of-day move.
    ticks (trade_date, instrument_token, socket, seq)
}

diesel::table! {
    /// The journal offset committed per socket and date.
    journal_positions (trade_date, socket, generation) {
        trade_date -> Date,
        socket -> SmallInt,
        generation -> SmallInt,
        committed_offset -> BigInt,
    }
}

diesel::table! {
    /// The day's resolved instruments.
    instruments (trade_date, instrument_token) {
        trade_date -> Date,
        instrument_token -> BigInt,
        tradingsymbol -> Text,
        name -> Text,
        expiry -> Nullable<Date>,
        strike -> Double,
        instrument_type -> Text,
        segment -> Text,
        exchange -> Text,
        lot_size -> Integer,
        tick_size -> Double,
        socket -> Nullable<SmallInt>,
        mode -> Nullable<Text>,
    }
}

diesel::table! {
    /// The gap ledger.
    gaps (id) {
        id -> Integer,
        trade_date -> Date,
        socket -> SmallInt,
        start_us -> BigInt,
        end_us -> BigInt,
        cause -> Text,
        instruments -> Integer,
    }
}

diesel::table! {
    /// Per date: rows the dedupe removed, over every run.
    eod_days (trade_date) {
        trade_date -> Date,
        removed_rows -> BigInt,
    }
}

diesel::table! {
    /// One row per end-of-day run.
    eod_runs (id) {
        id -> Integer,
        trade_date -> Date,
        started_at_us -> BigInt,
        finished_at_us -> Nullable<BigInt>,
        status -> Text,
        dedupe -> Text,
        master_rows -> Nullable<BigInt>,
        removed_rows -> Nullable<BigInt>,
        instruments -> Nullable<Integer>,
        gap_minutes -> Nullable<Double>,
        duration_ms -> Nullable<BigInt>,
        report -> Nullable<Text>,
    }
}

diesel::table! {
    /// Per date and instrument: the master rows the end of day last verified.
    eod_verified (trade_date, instrument_token) {
        trade_date -> Date,
        instrument_token -> BigInt,
        master_rows -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    daily_ticks,
    ticks,
    journal_positions,
    instruments,
    gaps,
    eod_days,
    eod_runs,
    eod_verified
);
