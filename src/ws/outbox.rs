//! A connection's requests: waiting for their slot under the venue's request rate
//! ([`Outbox`]), then sent and waiting for the venue's answer ([`Pending`]), so an answer is
//! matched to its request — by the id the venue echoes, in order, or (where the venue only
//! answers refusals) as the answer to the latest request.

use super::pace::{Gate, Window};
use super::refusals::CONFIRM;
use crate::config::ConnectorConfig;
use crate::exchange::session::Acks;
use std::collections::VecDeque;
use tokio::time::Instant;

/// Requests kept for matching answers; older ones are forgotten (their answers then count
/// as unattributed).
pub const PENDING_CAP: usize = 64;

/// One request: its id on the connection (the one the venue echoes, where it does) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Unique on the connection.
    pub id: u64,
    /// As sent.
    pub text: String,
}

/// Requests waiting for their slot under the venue's request rate.
pub struct Outbox {
    gate: Gate,
    /// Waiting requests, in sending order.
    pub queue: VecDeque<Request>,
    /// The booked slot of the queue's head.
    pub due: Option<Instant>,
    /// The next request's id: ids stay unique on the connection.
    pub next_id: u64,
}

impl Outbox {
    /// An empty outbox under `config`'s request rate.
    pub fn new(config: &ConnectorConfig) -> Self {
        let mut windows = vec![Window::gap(super::subscribe::min_gap(config))];
        windows.extend(
            config
                .profile
                .limits
                .max_requests_per_window
                .map(Window::from),
        );
        Self {
            gate: Gate::new(windows),
            queue: VecDeque::new(),
            due: None,
            next_id: 1,
        }
    }

    /// Queues `messages`, built with ids from [`Outbox::next_id`] on. With `replace`, a newer
    /// whole-set request makes the waiting ones moot.
    pub fn push(&mut self, messages: Vec<String>, replace: bool) {
        if replace {
            self.queue.clear();
        }
        for text in messages {
            self.queue.push_back(Request {
                id: self.next_id,
                text,
            });
            self.next_id += 1;
        }
        if self.due.is_none() && !self.queue.is_empty() {
            self.due = Some(self.gate.book(Instant::now()));
        }
    }

    /// The head went out now (maybe later than booked: the gate counts when it really went).
    pub fn sent(&mut self) -> Option<Request> {
        let now = Instant::now();
        self.gate.went(now);
        let head = self.queue.pop_front();
        self.due = (!self.queue.is_empty()).then(|| self.gate.book(now));
        head
    }
}

/// Requests sent and not answered yet.
#[derive(Debug)]
pub struct Pending {
    acks: Acks,
    sent: VecDeque<(Request, Instant)>,
}

impl Pending {
    /// None yet, for a venue that answers as `acks` says.
    pub fn new(acks: Acks) -> Self {
        Self {
            acks,
            sent: VecDeque::new(),
        }
    }

    /// `request` went out at `at`.
    pub fn sent(&mut self, request: Request, at: Instant) {
        if self.sent.len() == PENDING_CAP {
            self.sent.pop_front();
        }
        self.sent.push_back((request, at));
    }

    /// The request an acceptance answers (taken off the list).
    pub fn accepted(&mut self, id: Option<u64>) -> Option<Request> {
        match self.acks {
            Acks::ById => self.take(id?),
            Acks::InOrder => self.sent.pop_front().map(|(r, _)| r),
            Acks::Silent => None,
        }
    }

    /// The request a refusal at `now` answers: by id; the oldest unanswered; or the latest
    /// when it went out within [`CONFIRM`] (a venue that answers only refusals answers at
    /// once — a later error is not about a request).
    pub fn refused(&mut self, id: Option<u64>, now: Instant) -> Option<Request> {
        match self.acks {
            Acks::ById => self.take(id?),
            Acks::InOrder => self.sent.pop_front().map(|(r, _)| r),
            Acks::Silent => self
                .sent
                .back()
                .filter(|(_, at)| now.saturating_duration_since(*at) <= CONFIRM)
                .map(|(r, _)| r.clone()),
        }
    }

    fn take(&mut self, id: u64) -> Option<Request> {
        let at = self.sent.iter().position(|(r, _)| r.id == id)?;
        self.sent.remove(at).map(|(r, _)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u64) -> Request {
        Request {
            id,
            text: format!("m{id}"),
        }
    }

    #[test]
    fn answers_match_by_id_in_order_or_the_latest() {
        let t = Instant::now();
        let mut p = Pending::new(Acks::ById);
        p.sent(r(1), t);
        p.sent(r(2), t);
        assert_eq!(p.refused(Some(2), t), Some(r(2)));
        assert_eq!(p.refused(Some(2), t), None, "answered once");
        assert_eq!(p.refused(None, t), None, "no id: not attributable");
        assert_eq!(p.accepted(Some(1)), Some(r(1)));

        let mut p = Pending::new(Acks::InOrder);
        p.sent(r(1), t);
        p.sent(r(2), t);
        assert_eq!(p.accepted(None), Some(r(1)));
        assert_eq!(p.refused(None, t), Some(r(2)));
        assert_eq!(p.refused(None, t), None);

        let mut p = Pending::new(Acks::Silent);
        p.sent(r(1), t);
        p.sent(r(2), t);
        assert_eq!(p.accepted(None), None);
        assert_eq!(p.refused(None, t + CONFIRM), Some(r(2)));
        assert_eq!(
            p.refused(None, t + CONFIRM + CONFIRM),
            None,
            "too late to answer a request"
        );
    }

    #[test]
    fn pending_is_bounded() {
        let t = Instant::now();
        let mut p = Pending::new(Acks::ById);
        for id in 0..(PENDING_CAP as u64 + 10) {
            p.sent(r(id), t);
        }
        assert_eq!(p.accepted(Some(0)), None, "forgotten");
        assert_eq!(p.accepted(Some(10)), Some(r(10)));
    }
}
