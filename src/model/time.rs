//! Calendar arithmetic for exchanges that send wall-clock strings instead of epoch times.
//!
//! Only what the adapters need: proleptic Gregorian civil date/time to Unix microseconds,
//! with an explicit UTC offset (Bithumb's legacy API speaks KST, UTC+9, no DST).

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// A civil date and time that failed validation (e.g. month 13, 30 February, hour 24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid calendar date or time")]
pub struct CalendarError;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's `civil_from_days`,
/// the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A civil date-time with microseconds, as written by an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// Four-digit year.
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31 (checked against the month).
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=59 (leap seconds are not sent by these exchanges).
    pub second: u32,
    /// 0..=999_999.
    pub micros: u32,
}

impl CivilTime {
    /// The wall-clock time at Unix epoch microseconds `micros` in a zone `utc_offset_secs`
    /// ahead of UTC (the inverse of [`CivilTime::to_unix_micros`]).
    pub fn from_unix_micros(micros: i64, utc_offset_secs: i64) -> Self {
        let local = micros + utc_offset_secs * MICROS_PER_SEC;
        let (secs, sub) = (
            local.div_euclid(MICROS_PER_SEC),
            local.rem_euclid(MICROS_PER_SEC),
        );
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            micros: sub as u32,
        }
    }

    /// Converts to Unix epoch microseconds, given the zone's offset from UTC in seconds.
    pub fn to_unix_micros(self, utc_offset_secs: i64) -> Result<i64, CalendarError> {
        let valid = (1970..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.micros < 1_000_000;
        if !valid {
            return Err(CalendarError);
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - utc_offset_secs;
        Ok(secs * MICROS_PER_SEC + i64::from(self.micros))
    }
}

/// Days since 1970-01-01 of a calendar date written `yyyy-MM-dd` or `yyyyMMdd`.
pub fn parse_date_days(text: &str) -> Result<i32, CalendarError> {
    let b = text.as_bytes();
    let (y, m, d) = match b.len() {
        10 if b[4] == b'-' && b[7] == b'-' => (digits(b, 0, 4), digits(b, 5, 2), digits(b, 8, 2)),
        8 => (digits(b, 0, 4), digits(b, 4, 2), digits(b, 6, 2)),
        _ => return Err(CalendarError),
    };
    let (year, month, day) = (
        i64::from(y.ok_or(CalendarError)?),
        m.ok_or(CalendarError)?,
        d.ok_or(CalendarError)?,
    );
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(CalendarError);
    }
    i32::try_from(days_from_civil(year, month, day)).map_err(|_| CalendarError)
}

/// `yyyy-MM-dd` of a day count since 1970-01-01 (the inverse of [`parse_date_days`]).
pub fn format_date_days(days: i32) -> String {
    let (year, month, day) = civil_from_days(i64::from(days));
    format!("{year:04}-{month:02}-{day:02}")
}

/// The wall clock now, UTC epoch microseconds (the receive time of frames, ages, latencies).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Parses exactly `len` ASCII digits starting at `at`.
pub fn digits(text: &[u8], at: usize, len: usize) -> Option<u32> {
    let slice = text.get(at..at + len)?;
    slice.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parses `yyyyMMdd` and `HHmmss` (both fixed width, as Upbit and Bithumb send them).
pub fn parse_compact_date_time(date: &str, time: &str) -> Result<CivilTime, CalendarError> {
    let (d, t) = (date.as_bytes(), time.as_bytes());
    if d.len() != 8 || t.len() != 6 {
        return Err(CalendarError);
    }
    let field = |text, at, len| digits(text, at, len).ok_or(CalendarError);
    Ok(CivilTime {
        year: i64::from(field(d, 0, 4)?),
        month: field(d, 4, 2)?,
        day: field(d, 6, 2)?,
        hour: field(t, 0, 2)?,
        minute: field(t, 2, 2)?,
        second: field(t, 4, 2)?,
        micros: 0,
    })
}

/// Parses `yyyy-MM-dd HH:mm:ss` with an optional fraction of 1 to 6 digits
/// (`2021-06-02 08:43:34.555058`, Bithumb's `contDtm`).
pub fn parse_date_time(text: &str) -> Result<CivilTime, CalendarError> {
    let t = text.as_bytes();
    if t.len() < 19
        || t[4] != b'-'
        || t[7] != b'-'
        || t[10] != b' '
        || t[13] != b':'
        || t[16] != b':'
    {
        return Err(CalendarError);
    }
    let field = |at, len| digits(t, at, len).ok_or(CalendarError);
    let micros = match &t[19..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=6).contains(&frac.len()) => {
            let n = digits(frac, 0, frac.len()).ok_or(CalendarError)?;
            n * 10u32.pow(6 - frac.len() as u32)
        }
        _ => return Err(CalendarError),
    };
    Ok(CivilTime {
        year: i64::from(field(0, 4)?),
        month: field(5, 2)?,
        day: field(8, 2)?,
        hour: field(11, 2)?,
        minute: field(14, 2)?,
        second: field(17, 2)?,
        micros,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_with_fractions() {
        let at = |text| parse_date_time(text).and_then(|c| c.to_unix_micros(9 * 3600));
        // 2021-06-02 08:43:34.555058 KST = 2021-06-01 23:43:34.555058 UTC.
        assert_eq!(at("2021-06-02 08:43:34.555058"), Ok(1_622_591_014_555_058));
        assert_eq!(at("2021-06-02 08:43:34.5"), Ok(1_622_591_014_500_000));
        assert_eq!(at("2021-06-02 08:43:34"), Ok(1_622_591_014_000_000));
        for bad in [
            "2021-06-02T08:43:34",
            "2021-06-02 08:43:34.",
            "2021-06-02 08:43:34.1234567",
            "2021-06-31 08:43:34",
            "2021-06-02 24:43:34",
            "2021-06-02 08:43",
            "",
        ] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date_days("1970-01-01"), Ok(0));
        assert_eq!(parse_date_days("2026-12-01"), parse_date_days("20261201"));
        for days in [-1, 0, 59, 20_000, 2_932_896] {
            assert_eq!(parse_date_days(&format_date_days(days)), Ok(days));
        }
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026/12/01",
            "",
            "26-12-01",
            "2026-12-1x",
        ] {
            assert!(parse_date_days(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epoch_and_known_dates() {
        let at = |date, time| parse_compact_date_time(date, time).unwrap();
        assert_eq!(at("19700101", "000000").to_unix_micros(0), Ok(0));
        // 2023-08-30 08:21:05 UTC = 1693383665 (Upbit sample trade_date/trade_time).
        assert_eq!(
            at("20230830", "082105").to_unix_micros(0),
            Ok(1_693_383_665_000_000)
        );
        // The same wall clock in KST is nine hours earlier in UTC.
        assert_eq!(
            at("20230830", "172105").to_unix_micros(9 * 3600),
            Ok(1_693_383_665_000_000)
        );
        // Leap day and the KST midnight that is still the previous day in UTC.
        assert_eq!(
            at("20240229", "000000").to_unix_micros(0),
            Ok(1_709_164_800_000_000)
        );
        assert_eq!(
            at("20240301", "000000").to_unix_micros(9 * 3600),
            Ok(1_709_218_800_000_000)
        );
    }

    #[test]
    fn civil_time_round_trips_in_both_directions() {
        // From 1970-01-02 (so every offset stays inside the accepted 1970..=9999 range) to
        // ~2290, every ~11.6 days, with odd microseconds.
        let mut us = 86_400 * MICROS_PER_SEC;
        while us < 10_000_000_000_000_000 {
            for offset in [0, 9 * 3600, -5 * 3600] {
                let civil = CivilTime::from_unix_micros(us, offset);
                assert_eq!(
                    civil.to_unix_micros(offset),
                    Ok(us),
                    "{us} {offset}: {civil:?}"
                );
            }
            us += 1_000_000_007_123;
        }
        let leap = CivilTime::from_unix_micros(1_709_164_800_000_000, 0);
        assert_eq!((leap.year, leap.month, leap.day), (2024, 2, 29));
    }

    #[test]
    fn rejects_impossible_dates() {
        for (date, time) in [
            ("20230230", "000000"),
            ("20231301", "000000"),
            ("20230001", "000000"),
            ("20230101", "240000"),
            ("20230101", "006000"),
            ("2023011", "000000"),
            ("2023-1-1", "000000"),
            ("20230101", "00:00:"),
            ("19690101", "000000"),
        ] {
            let parsed = parse_compact_date_time(date, time).and_then(|c| c.to_unix_micros(0));
            assert_eq!(parsed, Err(CalendarError), "{date} {time}");
        }
        assert!(
            parse_compact_date_time("20230229", "000000")
                .unwrap()
                .to_unix_micros(0)
                .is_err()
        );
    }
}
