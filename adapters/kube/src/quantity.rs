//! Kubernetes resource quantities (`250m`, `1.5Gi`, `1e3`) read into the core's canonical
//! integer units, with exact decimal arithmetic.
//!
//! The syntax is Kubernetes': an optional sign, a decimal number (`1`, `1.5`, `.5`) and an
//! optional suffix: binary `Ki Mi Gi Ti Pi Ei`, decimal `n u m k M G T P E`, or a decimal
//! exponent `e<int>` / `E<int>`. CPU comes out in millicores and every other resource in whole
//! units (bytes for memory and storage); both are rounded up, as the Kubernetes scheduler
//! does.

use fleetplan::ResourceName;

use crate::error::QuantityError;

/// Reads a Kubernetes quantity for `resource` into canonical units: millicores for `cpu`,
/// whole units (bytes for memory) for everything else, rounded up.
///
/// Negative quantities are read (rounded towards positive infinity); callers that need a
/// non-negative amount check it.
///
/// # Errors
/// [`QuantityError::Syntax`] when `s` is not a quantity, [`QuantityError::OutOfRange`] when
/// the amount does not fit an `i64`.
///
/// ```
/// use fleetplan_kube::parse_quantity;
/// assert_eq!(parse_quantity("250m", "cpu"), Ok(250));
/// assert_eq!(parse_quantity("1.5Gi", "memory"), Ok(3 << 29));
/// assert_eq!(parse_quantity("0.1m", "cpu"), Ok(1)); // rounded up
/// ```
pub fn parse_quantity(s: &str, resource: &str) -> Result<i64, QuantityError> {
    let syntax = || QuantityError::Syntax {
        input: s.to_string(),
        resource: resource.to_string(),
    };
    let range = || QuantityError::OutOfRange {
        input: s.to_string(),
        resource: resource.to_string(),
    };
    let parsed = Parsed::read(s).ok_or_else(syntax)?;
    let cpu = resource == ResourceName::CPU;
    let pow10 = parsed.pow10 + if cpu { 3 } else { 0 } - parsed.fraction_digits;
    let mut numerator = parsed
        .digits
        .checked_mul(1i128 << parsed.pow2)
        .ok_or_else(range)?;
    if parsed.negative {
        numerator = -numerator;
    }
    let value = if pow10 >= 0 {
        let scale = 10i128.checked_pow(u32::try_from(pow10).map_err(|_| range())?);
        match scale {
            Some(scale) => numerator.checked_mul(scale).ok_or_else(range)?,
            None if numerator == 0 => 0,
            None => return Err(range()),
        }
    } else {
        match u32::try_from(-pow10).ok().and_then(|p| 10i128.checked_pow(p)) {
            Some(scale) => ceil_div(numerator, scale),
            // The divisor exceeds any numerator: the quotient is strictly between -1 and 1.
            None => i128::from(numerator > 0),
        }
    };
    i64::try_from(value).map_err(|_| range())
}

/// Reads `s` as a non-negative quantity; the error says which.
pub(crate) fn parse_non_negative(s: &str, resource: &str) -> Result<i64, QuantityError> {
    let amount = parse_quantity(s, resource)?;
    if amount < 0 {
        return Err(QuantityError::Negative {
            input: s.to_string(),
            resource: resource.to_string(),
        });
    }
    Ok(amount)
}

fn ceil_div(numerator: i128, divisor: i128) -> i128 {
    let quotient = numerator / divisor;
    if numerator % divisor > 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// A quantity split into its exact parts: `±digits × 10^(pow10 − fraction_digits) × 2^pow2`.
struct Parsed {
    negative: bool,
    digits: i128,
    fraction_digits: i64,
    pow10: i64,
    pow2: u32,
}

impl Parsed {
    fn read(s: &str) -> Option<Parsed> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, s.get(1..)?),
            b'+' => (false, s.get(1..)?),
            _ => (false, s),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (number, None),
        };
        match fraction {
            // `digits` or `digits.digits` or `.digits`
            None if whole.is_empty() => return None,
            Some(f) if f.is_empty() || f.contains('.') => return None,
            _ => {}
        }
        let fraction = fraction.unwrap_or("");
        let all = format!("{whole}{fraction}");
        let significant = all.trim_start_matches('0');
        // 36 digits keep every later multiplication inside i128 or report overflow.
        if significant.len() > 36 {
            return None;
        }
        let digits = if significant.is_empty() {
            0
        } else {
            significant.parse().ok()?
        };
        let (pow10, pow2) = suffix_scale(suffix)?;
        Some(Parsed {
            negative,
            digits,
            fraction_digits: i64::try_from(fraction.len()).ok()?,
            pow10,
            pow2,
        })
    }
}

/// The scale of a suffix as (power of ten, power of two).
fn suffix_scale(suffix: &str) -> Option<(i64, u32)> {
    Some(match suffix {
        "" => (0, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Anything beyond this range is out of range or rounds to one unit anyway.
            (exponent.parse::<i64>().ok()?.clamp(-1000, 1000), 0)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str, resource: &str) -> i64 {
        parse_quantity(s, resource).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(q("1", "cpu"), 1000);
        assert_eq!(q("0", "cpu"), 0);
        assert_eq!(q("+2", "memory"), 2);
        assert_eq!(q("1.5", "cpu"), 1500);
        assert_eq!(q(".5", "cpu"), 500);
        assert_eq!(q("0.25", "cpu"), 250);
        assert_eq!(q("007", "pods"), 7);
        assert_eq!(q("110", "pods"), 110);
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(q("1Ki", "memory"), 1 << 10);
        assert_eq!(q("1Mi", "memory"), 1 << 20);
        assert_eq!(q("1Gi", "memory"), 1 << 30);
        assert_eq!(q("1Ti", "memory"), 1 << 40);
        assert_eq!(q("1Pi", "memory"), 1 << 50);
        assert_eq!(q("1Ei", "memory"), 1 << 60);
        assert_eq!(q("1.5Gi", "memory"), 3 << 29);
        assert_eq!(q("1Ki", "cpu"), 1024 * 1000);
    }

    #[test]
    fn decimal_suffixes() {
        assert_eq!(q("500000000n", "cpu"), 500);
        assert_eq!(q("250000u", "cpu"), 250);
        assert_eq!(q("250m", "cpu"), 250);
        assert_eq!(q("1k", "memory"), 1_000);
        assert_eq!(q("1M", "memory"), 1_000_000);
        assert_eq!(q("1G", "memory"), 1_000_000_000);
        assert_eq!(q("1T", "memory"), 1_000_000_000_000);
        assert_eq!(q("1P", "memory"), 1_000_000_000_000_000);
        assert_eq!(q("1E", "memory"), 1_000_000_000_000_000_000);
        assert_eq!(q("2k", "cpu"), 2_000_000);
    }

    #[test]
    fn exponents() {
        assert_eq!(q("1e3", "memory"), 1000);
        assert_eq!(q("1E3", "memory"), 1000);
        assert_eq!(q("1e+3", "memory"), 1000);
        assert_eq!(q("5e-1", "cpu"), 500);
        assert_eq!(q("1e-3", "cpu"), 1);
        assert_eq!(q("1.5e2", "pods"), 150);
    }

    #[test]
    fn rounding_is_up() {
        assert_eq!(q("0.1m", "cpu"), 1);
        assert_eq!(q("1n", "cpu"), 1);
        assert_eq!(q("1001u", "cpu"), 2);
        assert_eq!(q("0.5", "memory"), 1);
        assert_eq!(q("100m", "memory"), 1);
        assert_eq!(q("1500m", "nvidia.com/gpu"), 2);
        assert_eq!(q("2000m", "nvidia.com/gpu"), 2);
        assert_eq!(q("1e-900", "memory"), 1);
        assert_eq!(q("0e-900", "memory"), 0);
        assert_eq!(q("0.0000000000000000000000000000000000000000001", "cpu"), 1);
        // Negative amounts round towards positive infinity.
        assert_eq!(q("-1.5", "memory"), -1);
        assert_eq!(q("-1m", "memory"), 0);
    }

    #[test]
    fn limits_of_range() {
        assert_eq!(q("7Ei", "pods"), 7 << 60);
        assert!(matches!(
            parse_quantity("8Ei", "pods"),
            Err(QuantityError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_quantity("8Ei", "cpu"),
            Err(QuantityError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_quantity("1e19", "memory"),
            Err(QuantityError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_quantity("1e1000", "memory"),
            Err(QuantityError::OutOfRange { .. })
        ));
        assert_eq!(q("0e1000", "memory"), 0);
        assert_eq!(q("9223372036854775807", "memory"), i64::MAX);
        assert!(parse_quantity("9223372036854775808", "memory").is_err());
    }

    #[test]
    fn bad_syntax_is_rejected() {
        for bad in [
            "", "+", "-", ".", "1.", "1..5", "1.2.3", "abc", "1x", "1 Gi", " 1", "1Gi ", "1gi", "1KI", "1e",
            "1e+", "1e1.5", "1mi", "--1", "1Mii", "Gi", "0x10", "1,5", "1_000",
        ] {
            assert!(
                matches!(parse_quantity(bad, "memory"), Err(QuantityError::Syntax { .. })),
                "{bad:?} should be a syntax error"
            );
        }
        let long = "1".repeat(40);
        assert!(parse_quantity(&long, "memory").is_err());
    }

    #[test]
    fn non_negative_rejects_negative_amounts() {
        assert_eq!(parse_non_negative("1", "cpu"), Ok(1000));
        let e = parse_non_negative("-1", "cpu").unwrap_err();
        assert_eq!(e.to_string(), "quantity \"-1\" for cpu must not be negative");
    }
}
