//! Legacy `transaction`: a list of trades per frame, every value a string, times as KST wall
//! clock with microseconds. One frame gives one tick per trade, in the list's order.
//!
//! ```json
//! {"type":"transaction","content":{"list":[{"buySellGb":"2","contPrice":"7.524",
//!  "contQty":"76999.569","contAmt":"579344.757","contDtm":"2021-06-02 08:43:42.240601",
//!  "updn":"up","symbol":"GOM2_KRW"}]}}
//! ```
//! `buySellGb` is the taker's side: `1` sell, `2` buy. The legacy API sends no trade id, so
//! these ticks have no sequence; a trade that fails any rule rejects the whole frame (it goes to
//! the DLQ as received, nothing is half-published).

use super::{KST_OFFSET_SECS, legacy_instrument};
use crate::exchange::AdapterConfig;
use crate::exchange::json::{Fields, Parser, Raw, no_duplicate, required_decimal, store};
use crate::model::reject::clip;
use crate::model::time::parse_date_time;
use crate::model::{EventKind, Exchange, Reason, Rejection, Tick, TradeSide, validate};

/// One entry of `content.list`.
#[derive(Debug, Default)]
pub(super) struct LegacyTrade<'a> {
    duplicate: Option<&'static str>,
    symbol: Option<&'a str>,
    side: Option<&'a str>,
    price: Option<Raw<'a>>,
    qty: Option<Raw<'a>>,
    time: Option<&'a str>,
}

impl<'a> Fields<'a> for LegacyTrade<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        let dup = &mut self.duplicate;
        match key {
            "symbol" => store(&mut self.symbol, dup, "symbol", p),
            "buySellGb" => store(&mut self.side, dup, "buySellGb", p),
            "contPrice" => store(&mut self.price, dup, "contPrice", p),
            "contQty" => store(&mut self.qty, dup, "contQty", p),
            "contDtm" => store(&mut self.time, dup, "contDtm", p),
            _ => p.skip(),
        }
    }
}

/// `content` of a `transaction` message.
#[derive(Debug, Default)]
pub(super) struct LegacyTransactions<'a> {
    duplicate: Option<&'static str>,
    list: Option<Vec<LegacyTrade<'a>>>,
}

impl<'a> Fields<'a> for LegacyTransactions<'a> {
    fn field(&mut self, key: &'a str, p: &mut Parser<'a>) -> Result<(), Rejection> {
        match key {
            "list" => {
                if self.list.is_some() {
                    self.duplicate.get_or_insert("list");
                }
                let mut list = Vec::new();
                p.array(|p, _| {
                    list.push(p.object()?);
                    Ok(())
                })?;
                self.list = Some(list);
                Ok(())
            }
            _ => p.skip(),
        }
    }
}

/// Every trade of the frame, validated.
pub(super) fn transactions(
    content: &LegacyTransactions<'_>,
    received_ts_us: i64,
    config: &AdapterConfig,
) -> Result<Vec<Tick>, Rejection> {
    no_duplicate(content.duplicate)?;
    let list = content
        .list
        .as_ref()
        .ok_or_else(|| Rejection::missing("list"))?;
    if list.is_empty() {
        return Err(Rejection::missing("list[0]"));
    }
    list.iter()
        .map(|t| trade(t, received_ts_us, config))
        .collect()
}

fn trade(
    t: &LegacyTrade<'_>,
    received_ts_us: i64,
    config: &AdapterConfig,
) -> Result<Tick, Rejection> {
    no_duplicate(t.duplicate)?;
    let (symbol, instrument) = legacy_instrument(t.symbol, config)?;
    let price = required_decimal("contPrice", t.price)?;
    let mut tick = Tick::new(
        Exchange::Bithumb,
        instrument,
        symbol,
        EventKind::Trade,
        price,
        received_ts_us,
    );
    tick.last_qty = Some(required_decimal("contQty", t.qty)?);
    tick.trade_side = match t.side.ok_or_else(|| Rejection::missing("buySellGb"))? {
        "1" => Some(TradeSide::Sell),
        "2" => Some(TradeSide::Buy),
        other => {
            return Err(Rejection::new(
                Reason::WrongType,
                format!(
                    "`buySellGb` `{}` is not 1 (sell) or 2 (buy)",
                    clip(other, 8)
                ),
            ));
        }
    };
    let time = t.time.ok_or_else(|| Rejection::missing("contDtm"))?;
    let at = parse_date_time(time)
        .and_then(|c| c.to_unix_micros(KST_OFFSET_SECS))
        .map_err(|_| {
            Rejection::new(
                Reason::InvalidTimestamp,
                format!(
                    "`contDtm` `{}` is not yyyy-MM-dd HH:mm:ss.ffffff (KST)",
                    clip(time, 32)
                ),
            )
        })?;
    // The trade's time is the event: the legacy API stamps nothing else.
    tick.trade_ts_us = Some(at);
    tick.event_ts_us = Some(at);
    validate(&tick, &config.validation)?;
    Ok(tick)
}
