//! Property tests of the encoders: what is accepted reads back as the same
//! value (decimals digit for digit, floats bit for bit, times field for
//! field), and what cannot fit is refused, never rounded.

use mysql_async::Value as Param;
use proptest::prelude::*;
use sluice_api::{CivilDate, Decimal, TimeOfDay, TimestampTz, Value};

use super::ColumnKind;
use super::numeric::{to_decimal, to_float32, to_float64, to_int};
use super::temporal::{to_time, to_timestamp};

fn decimal(text: &str) -> Value {
    Value::Decimal(Decimal::parse(text).unwrap())
}

/// The numeric value of decimal text, as (negative, integer digits, fraction digits) without padding zeros.
fn normalized(text: &str) -> (bool, String, String) {
    let (negative, body) = text.strip_prefix('-').map_or((false, text), |body| (true, body));
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0').to_owned();
    let frac = frac.trim_end_matches('0').to_owned();
    let zero = int.is_empty() && frac.is_empty();
    (negative && !zero, int, frac)
}

proptest! {
    #[test]
    fn doubles_round_trip_through_their_shortest_text(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        prop_assert_eq!(to_float64(&Value::Float64(x)).unwrap(), Param::Double(x));
        prop_assert_eq!(to_float64(&decimal(&x.to_string())).unwrap(), Param::Double(x));
    }

    #[test]
    fn floats_round_trip_through_their_shortest_text(x in any::<f32>().prop_filter("finite", |x| x.is_finite())) {
        prop_assert_eq!(to_float32(&decimal(&x.to_string())).unwrap(), Param::Float(x));
        prop_assert_eq!(to_float32(&Value::Float64(f64::from(x))).unwrap(), Param::Float(x));
    }

    #[test]
    fn decimals_are_kept_exactly_or_refused(
        negative: bool,
        int in "[0-9]{0,40}",
        frac in "[0-9]{0,35}",
        precision in 1u32..=65,
        scale_seed in 0u32..=30,
    ) {
        let scale = scale_seed.min(precision);
        let text = format!("{}{}.{}", if negative { "-" } else { "" }, if int.is_empty() { "0" } else { &int }, frac);
        let (_, int_digits, frac_digits) = normalized(&text);
        let fits = int_digits.len() <= (precision - scale) as usize && frac_digits.len() <= scale as usize;
        match to_decimal(&decimal(&text), precision, scale) {
            Ok(Param::Bytes(bytes)) => {
                prop_assert!(fits);
                prop_assert_eq!(normalized(std::str::from_utf8(&bytes).unwrap()), normalized(&text));
            }
            Ok(other) => prop_assert!(false, "unexpected parameter {:?}", other),
            Err(_) => prop_assert!(!fits),
        }
    }

    #[test]
    fn integers_are_accepted_exactly_within_the_range(v: i64, bytes in 1u8..=8, unsigned: bool) {
        let bits = u32::from(bytes) * 8;
        let (min, max) = if unsigned { (0, (1i128 << bits) - 1) } else { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) };
        let kind = ColumnKind::Int { min, max };
        let inside = (min..=max).contains(&i128::from(v));
        match to_int(&Value::Int(v), min, max, &kind) {
            Ok(Param::Int(written)) => prop_assert!(inside && written == v),
            Ok(other) => prop_assert!(false, "unexpected parameter {:?}", other),
            Err(_) => prop_assert!(!inside),
        }
    }

    #[test]
    fn durations_within_838_hours_keep_every_field(micros in -3_020_399_000_000i64..=3_020_399_000_000) {
        let Param::Time(negative, days, hours, minutes, seconds, fraction) = to_time(&Value::Duration(micros), 6).unwrap() else {
            panic!("not a TIME parameter");
        };
        let magnitude = ((((i64::from(days) * 24 + i64::from(hours)) * 60 + i64::from(minutes)) * 60 + i64::from(seconds))
            * 1_000_000) + i64::from(fraction);
        prop_assert_eq!(if negative { -magnitude } else { magnitude }, micros);
    }

    #[test]
    fn timestamps_within_range_keep_their_instant(micros in 1_000_000i64..=2_147_483_647_999_999) {
        let Param::Date(year, month, day, hour, minute, second, fraction) =
            to_timestamp(&Value::TimestampTz(TimestampTz::Micros(micros)), 6).unwrap()
        else {
            panic!("not a DATETIME parameter");
        };
        let date = CivilDate { year: i32::from(year), month, day };
        let time = TimeOfDay(((u64::from(hour) * 60 + u64::from(minute)) * 60 + u64::from(second)) * 1_000_000 + u64::from(fraction));
        prop_assert_eq!(TimestampTz::from_utc_civil(date, time), micros);
    }
}
