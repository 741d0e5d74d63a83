//! Expiry dates and trading symbols of NSE equity derivatives, as PROTOCOL.md §6 describes them.
//!
//! The weekday of each underlying's weekly and monthly expiry has changed several times; the
//! tables below carry that history so that the simulator's instruments dump is right for any
//! `--date` since 2019. A holiday on the expiry day moves it to the previous trading day, and
//! weekly contracts skip the week of the monthly expiry (the monthly serves that week).

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use crate::calendar::TradingCalendar;

/// Whose derivatives: index underlyings have their own expiry histories; stocks share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Underlying {
    /// NIFTY 50.
    Nifty,
    /// NIFTY BANK.
    BankNifty,
    /// NIFTY FIN SERVICE.
    FinNifty,
    /// NIFTY MID SELECT.
    MidcpNifty,
    /// Any F&O stock.
    Stock,
}

type Regime = &'static [((i32, u32, u32), Option<Weekday>)];

use Weekday::{Mon, Thu, Tue, Wed};

/// Weekly expiry weekday from each date on (`None`: no weeklies).
fn weekly_regime(u: Underlying) -> Regime {
    match u {
        Underlying::Nifty => &[((2019, 2, 11), Some(Thu)), ((2025, 9, 1), Some(Tue))],
        Underlying::BankNifty => &[
            ((2016, 5, 27), Some(Thu)),
            ((2023, 9, 4), Some(Wed)),
            ((2024, 11, 14), None),
        ],
        Underlying::FinNifty => &[((2021, 1, 11), Some(Tue)), ((2024, 11, 20), None)],
        Underlying::MidcpNifty => &[
            ((2022, 1, 24), Some(Tue)),
            ((2023, 8, 21), Some(Mon)),
            ((2024, 11, 19), None),
        ],
        Underlying::Stock => &[],
    }
}

/// Monthly expiry ("last <weekday> of the month") from each month on.
fn monthly_regime(u: Underlying) -> Regime {
    match u {
        Underlying::Nifty | Underlying::Stock => {
            &[((2000, 1, 1), Some(Thu)), ((2025, 9, 1), Some(Tue))]
        }
        Underlying::BankNifty => &[
            ((2000, 1, 1), Some(Thu)),
            ((2024, 3, 1), Some(Wed)),
            ((2025, 1, 1), Some(Thu)),
            ((2025, 9, 1), Some(Tue)),
        ],
        Underlying::FinNifty => &[
            ((2000, 1, 1), Some(Tue)),
            ((2025, 1, 1), Some(Thu)),
            ((2025, 9, 1), Some(Tue)),
        ],
        Underlying::MidcpNifty => &[
            ((2000, 1, 1), Some(Tue)),
            ((2023, 8, 21), Some(Mon)),
            ((2025, 1, 1), Some(Thu)),
            ((2025, 9, 1), Some(Tue)),
        ],
    }
}

fn regime_at(regime: Regime, day: NaiveDate) -> Option<Weekday> {
    regime
        .iter()
        .rev()
        .find(|((y, m, dd), _)| {
            NaiveDate::from_ymd_opt(*y, *m, *dd).is_some_and(|from| from <= day)
        })
        .and_then(|(_, wd)| *wd)
}

/// The last `weekday` of the month of `day`.
fn last_weekday_of_month(day: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    let first = day.with_day(1)?;
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    last.checked_sub_days(Days::new(u64::from(back)))
}

/// The monthly expiry of `u` in the month of `day` (holiday-adjusted).
pub fn monthly_expiry(u: Underlying, day: NaiveDate, cal: &TradingCalendar) -> Option<NaiveDate> {
    let first = day.with_day(1)?;
    let weekday = regime_at(monthly_regime(u), first)?;
    Some(cal.on_or_before(last_weekday_of_month(first, weekday)?))
}

/// The next `n` monthly expiries of `u` on or after `today`.
pub fn monthly_expiries(
    u: Underlying,
    today: NaiveDate,
    n: usize,
    cal: &TradingCalendar,
) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n);
    let mut month = today.with_day(1);
    while let Some(m) = month {
        if out.len() >= n {
            break;
        }
        if let Some(e) = monthly_expiry(u, m, cal).filter(|e| *e >= today) {
            out.push(e);
        }
        month = m.checked_add_months(Months::new(1));
    }
    out
}

/// The next `n` weekly (non-monthly) expiries of `u` on or after `today`; empty for an
/// underlying without weeklies at that time. Looks at most a year ahead.
pub fn weekly_expiries(
    u: Underlying,
    today: NaiveDate,
    n: usize,
    cal: &TradingCalendar,
) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n);
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    for week in 0..53u64 {
        if out.len() >= n {
            break;
        }
        let Some(start) = monday.checked_add_days(Days::new(7 * week)) else {
            break;
        };
        let Some(weekday) = regime_at(weekly_regime(u), start) else {
            continue;
        };
        let nominal = start + Days::new(u64::from(weekday.num_days_from_monday()));
        let expiry = cal.on_or_before(nominal);
        if expiry < today || monthly_expiry(u, nominal, cal) == Some(expiry) {
            continue;
        }
        out.push(expiry);
    }
    out
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// `NIFTY25NOVFUT`.
pub fn future_symbol(root: &str, expiry: NaiveDate) -> String {
    format!(
        "{root}{:02}{}FUT",
        expiry.year() % 100,
        MONTHS[expiry.month0() as usize]
    )
}

/// A strike as Kite writes it: `24000`, `1012.5`.
pub fn strike_text(strike: f64) -> String {
    if strike.fract() == 0.0 {
        format!("{strike:.0}")
    } else {
        let s = format!("{strike:.2}");
        s.trim_end_matches('0').to_string()
    }
}

/// `NIFTY25NOV24000CE`.
pub fn monthly_option_symbol(root: &str, expiry: NaiveDate, strike: f64, right: &str) -> String {
    format!(
        "{root}{:02}{}{}{right}",
        expiry.year() % 100,
        MONTHS[expiry.month0() as usize],
        strike_text(strike)
    )
}

/// `NIFTY25N1124000CE`: month as 1–9, O, N, D, then the two-digit day.
pub fn weekly_option_symbol(root: &str, expiry: NaiveDate, strike: f64, right: &str) -> String {
    let month = match expiry.month() {
        m @ 1..=9 => char::from(b'0' + m as u8),
        10 => 'O',
        11 => 'N',
        _ => 'D',
    };
    format!(
        "{root}{:02}{month}{:02}{}{right}",
        expiry.year() % 100,
        expiry.day(),
        strike_text(strike)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn days(v: &[NaiveDate]) -> Vec<String> {
        v.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn nifty_weeklies_are_tuesdays_and_skip_the_monthly_week() {
        let cal = TradingCalendar::nse();
        // 2026-11-24 (last Tuesday) is a holiday: the monthly moves to Monday the 23rd.
        assert_eq!(
            monthly_expiry(Underlying::Nifty, day("2026-11-02"), &cal),
            Some(day("2026-11-23"))
        );
        assert_eq!(
            days(&weekly_expiries(
                Underlying::Nifty,
                day("2026-11-20"),
                4,
                &cal
            )),
            ["2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22"]
        );
        assert_eq!(
            days(&monthly_expiries(
                Underlying::Nifty,
                day("2026-11-20"),
                2,
                &cal
            )),
            ["2026-11-23", "2026-12-29"]
        );
    }

    #[test]
    fn a_month_whose_last_tuesday_is_a_holiday_expires_the_day_before() {
        let cal = TradingCalendar::nse();
        // 2026-03-31 is Shri Mahavir Jayanti.
        assert_eq!(
            monthly_expiry(Underlying::BankNifty, day("2026-03-10"), &cal),
            Some(day("2026-03-30"))
        );
        // And a weekly on a holiday moves too: 2026-03-03 (Holi) → Monday 2026-03-02.
        assert_eq!(
            weekly_expiries(Underlying::Nifty, day("2026-03-02"), 1, &cal),
            vec![day("2026-03-02")]
        );
    }

    #[test]
    fn history_is_respected() {
        let cal = TradingCalendar::nse();
        // Before September 2025 NIFTY expired on Thursdays; 2025-08-28 was the monthly.
        assert_eq!(
            days(&weekly_expiries(
                Underlying::Nifty,
                day("2025-08-18"),
                3,
                &cal
            )),
            ["2025-08-21", "2025-09-02", "2025-09-09"]
        );
        // BANKNIFTY: weekly Wednesdays in 2024, monthly on the last Wednesday from March 2024.
        assert_eq!(
            weekly_expiries(Underlying::BankNifty, day("2024-06-03"), 1, &cal),
            vec![day("2024-06-05")]
        );
        assert_eq!(
            monthly_expiry(Underlying::BankNifty, day("2024-06-03"), &cal),
            Some(day("2024-06-26"))
        );
        // No BANKNIFTY weeklies after November 2024.
        assert!(weekly_expiries(Underlying::BankNifty, day("2025-03-03"), 4, &cal).is_empty());
    }

    #[test]
    fn symbols_follow_kite_formats() {
        let e = day("2025-11-11");
        assert_eq!(
            weekly_option_symbol("NIFTY", e, 24000.0, "CE"),
            "NIFTY25N1124000CE"
        );
        assert_eq!(
            monthly_option_symbol("NIFTY", day("2025-11-25"), 24000.0, "CE"),
            "NIFTY25NOV24000CE"
        );
        assert_eq!(future_symbol("NIFTY", day("2025-11-25")), "NIFTY25NOVFUT");
        assert_eq!(
            weekly_option_symbol("NIFTY", day("2020-12-17"), 13600.0, "CE"),
            "NIFTY20D1713600CE"
        );
        assert_eq!(
            weekly_option_symbol("BANKNIFTY", day("2020-02-06"), 30900.0, "CE"),
            "BANKNIFTY2020630900CE"
        );
        assert_eq!(
            monthly_option_symbol("RELIANCE", day("2026-12-29"), 1312.5, "PE"),
            "RELIANCE26DEC1312.5PE"
        );
    }
}
