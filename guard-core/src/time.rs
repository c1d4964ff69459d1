//! [`Timestamp`]: the time the caller passes in (guard-core never reads a clock).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time: integer microseconds since the Unix epoch (UTC), the unit recordings use.
///
/// guard-core never reads the clock; the caller passes `now` in, usually
/// `Timestamp::from(SystemTime::now())`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use guard_core::Timestamp;
///
/// let t = Timestamp::from_unix_secs(1_700_000_000);
/// assert_eq!(t.saturating_add(Duration::from_secs(60)).as_unix_secs(), 1_700_000_060);
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From microseconds since the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From whole seconds since the Unix epoch (saturating).
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_unix_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded towards negative infinity).
    pub const fn as_unix_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// This time plus `d`, saturating at the end of the representable range.
    pub fn saturating_add(self, d: Duration) -> Self {
        let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(micros))
    }

    /// This time minus `d`, saturating at the start of the representable range.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(micros))
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        let d = self.0.saturating_sub(earlier.0);
        Duration::from_micros(u64::try_from(d).unwrap_or(0))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX)),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "@{}.{:06}",
            self.as_unix_secs(),
            self.0.rem_euclid(1_000_000)
        )
    }
}

/// Serde helper: a [`Duration`] as whole seconds.
pub(crate) mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let t = Timestamp::from(UNIX_EPOCH + Duration::from_micros(1_500_000));
        assert_eq!(t.as_unix_micros(), 1_500_000);
        assert_eq!(t.as_unix_secs(), 1);
        assert_eq!(Timestamp::from_unix_micros(-1).as_unix_secs(), -1);
        let before = Timestamp::from(UNIX_EPOCH - Duration::from_secs(2));
        assert_eq!(before.as_unix_secs(), -2);
        assert_eq!(t.duration_since(before), Duration::from_micros(3_500_000));
        assert_eq!(before.duration_since(t), Duration::ZERO);
        assert_eq!(t.to_string(), "@1.500000");
        assert_eq!(
            Timestamp::from_unix_secs(i64::MAX).as_unix_micros(),
            i64::MAX
        );
    }
}
