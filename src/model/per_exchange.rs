//! One value per exchange, indexed by [`Exchange`]: per-exchange counters and state without
//! fixed-size arrays and slot arithmetic at every use. A new exchange is one more variant of
//! [`Exchange`] (and of [`Exchange::ALL`]); nothing here changes.

use super::Exchange;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many exchanges there are.
pub const EXCHANGES: usize = Exchange::ALL.len();

impl Exchange {
    /// Its position in [`Exchange::ALL`] (the declaration order).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// A `T` for each exchange.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PerExchange<T>([T; EXCHANGES]);

impl<T> PerExchange<T> {
    /// The value of `e`.
    pub fn get(&self, e: Exchange) -> &T {
        &self.0[e.index()]
    }

    /// The value of `e`, to change.
    pub fn get_mut(&mut self, e: Exchange) -> &mut T {
        &mut self.0[e.index()]
    }

    /// Every exchange with its value, in [`Exchange::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Exchange, &T)> {
        Exchange::ALL.into_iter().zip(self.0.iter())
    }
}

impl<T> std::ops::Index<Exchange> for PerExchange<T> {
    type Output = T;

    fn index(&self, e: Exchange) -> &T {
        self.get(e)
    }
}

impl PerExchange<AtomicU64> {
    /// Adds `n` to `e`'s counter.
    pub fn add(&self, e: Exchange, n: u64) {
        self.0[e.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// `e`'s counter.
    pub fn load(&self, e: Exchange) -> u64 {
        self.0[e.index()].load(Ordering::Relaxed)
    }

    /// The sum over every exchange.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exchange_has_its_own_slot_in_all_order() {
        for (i, e) in Exchange::ALL.into_iter().enumerate() {
            assert_eq!(e.index(), i, "{e}");
        }
        let c: PerExchange<AtomicU64> = PerExchange::default();
        let [first, rest @ ..] = Exchange::ALL;
        for (i, e) in rest.into_iter().enumerate() {
            c.add(e, i as u64 + 2);
        }
        assert_eq!(c.load(first), 0);
        let seen: Vec<(Exchange, u64)> = c
            .iter()
            .map(|(e, v)| (e, v.load(Ordering::Relaxed)))
            .collect();
        let want: Vec<(Exchange, u64)> = Exchange::ALL
            .into_iter()
            .enumerate()
            .map(|(i, e)| (e, if i == 0 { 0 } else { i as u64 + 1 }))
            .collect();
        assert_eq!(seen, want);
        assert_eq!(c.total(), want.iter().map(|(_, n)| n).sum::<u64>());
    }
}
