//! The quality flags a tick carries (schema v4): what a consumer needs to tell a live price
//! from one that follows missed data, from the data alone (after Databento's record flags).

use super::Tick;

/// One quality flag; [`Flag::ALL`] in schema field order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `first_after_connect`: the first tick of its instrument and kind from a new WebSocket
    /// session.
    FirstAfterConnect,
    /// `snapshot`: the venue restates its current state rather than reporting an event.
    Snapshot,
    /// `sequence_gap`: ids the venue numbers consecutively jumped before this tick.
    SequenceGap,
}

impl Flag {
    /// Every flag, in schema field order.
    pub const ALL: [Flag; 3] = [Self::FirstAfterConnect, Self::Snapshot, Self::SequenceGap];

    /// The contract's field name, also the `flag` label of `tickflow_tick_flags_total`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FirstAfterConnect => "first_after_connect",
            Self::Snapshot => "snapshot",
            Self::SequenceGap => "sequence_gap",
        }
    }

    /// Its position in [`Flag::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl Tick {
    /// Whether `flag` is set.
    pub const fn has(&self, flag: Flag) -> bool {
        match flag {
            Flag::FirstAfterConnect => self.first_after_connect,
            Flag::Snapshot => self.snapshot,
            Flag::SequenceGap => self.sequence_gap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Exchange, Instrument};

    #[test]
    fn flags_name_the_fields_they_read() {
        let mut t = Tick::new(
            Exchange::Binance,
            Instrument::parse("BTC-USDT").unwrap(),
            "BTCUSDT",
            EventKind::Trade,
            1.into(),
            1,
        );
        assert!(Flag::ALL.iter().all(|f| !t.has(*f)));
        t.sequence_gap = true;
        let json = serde_json::to_value(&t).unwrap();
        for f in Flag::ALL {
            assert_eq!(json[f.as_str()], t.has(f), "{}", f.as_str());
            assert_eq!(Flag::ALL[f.index()], f);
        }
    }
}
