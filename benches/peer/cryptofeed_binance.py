"""The peer side of `scripts/peer_bench.sh`: cryptofeed's Binance feed over the same real
frames tickflow's `peer_frames` benchmark decodes (`../shared/samples`, see PROVENANCE.txt).

For each frame set, `Binance.message_handler` (JSON parse, routing, `Decimal` values, its
`Ticker`/`Trade` objects) runs with
  - a no-op callback, and
  - its Kafka callback's per-message serialization: `to_dict`, the topic, the JSON bytes of the
    value and of the key, exactly what `KafkaCallback.writer` hands `AIOKafkaProducer.send`;
    only the network send (and its queue) is left out, as tickflow's side leaves out librdkafka.
Symbols come from the exchangeInfo capture beside the frames, so nothing touches the network.

Prints one JSON line per case: {"case", "frames", "rounds", "median_ns_per_frame"}.
"""
import asyncio
import json
import pathlib
import statistics
import sys
import time

from importlib.metadata import version

from cryptofeed.backends.kafka import TickerKafka, TradeKafka
from cryptofeed.defines import TICKER, TRADES
from cryptofeed.exchanges import Binance
from cryptofeed.symbols import Symbols

VERSION = version("cryptofeed")
ROUNDS = 15
# Each round decodes at least this many frames (cycling through a small set).
FRAMES_PER_ROUND = 4000


def hftbacktest(path):
    out = []
    for line in path.read_text().splitlines():
        ns, frame = line.split(" ", 1)
        out.append((int(ns) / 1e9, frame))
    return out


def cryptofeed_capture(path):
    out = []
    for line in path.read_text().splitlines():
        ts, sep, frame = line.partition(": ")
        if sep and ts.replace(".", "", 1).isdigit():
            out.append((float(ts), frame))
    return out


class Serialized:
    """What KafkaCallback.writer does with each update before the send."""

    def __init__(self, cls):
        self.backend = cls.__new__(cls)
        cls.__init__(self.backend)
        self.last = None

    async def write(self, data):
        b = self.backend
        value = b._default_serializer(data)
        key = b._default_serializer(b.key)
        self.last = (b.topic(data), value, key)


def serializing(cls):
    holder = Serialized(cls)
    # BackendCallback.__call__ (to_dict, timestamps) then our write in place of the queue.
    holder.backend.write = holder.write
    return holder.backend


async def noop(obj, receipt_timestamp):
    return None


async def run(frames, channel, callback):
    feed = Binance(symbols=["BTC-USDT"], channels=[channel], callbacks={channel: [callback]})
    cycles = max(1, -(-FRAMES_PER_ROUND // len(frames)))
    per_frame = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(cycles):
            for ts, frame in frames:
                await feed.message_handler(frame, None, ts)
        per_frame.append((time.perf_counter_ns() - start) / (len(frames) * cycles))
    return statistics.median(per_frame)


def main():
    samples = pathlib.Path(sys.argv[1])
    info_text = (samples / "binance/cryptofeed__BINANCE.0").read_text().splitlines()[0]
    info = json.loads(info_text[info_text.index("{"):])
    syms, extra = Binance._parse_symbol_data(info)
    Symbols.set(Binance.id, syms, extra)
    hft = hftbacktest(samples / "binance/hftbacktest__spot_btcusdt_20240808_head3000.txt")
    cf = cryptofeed_capture(samples / "binance/cryptofeed__BINANCE.ws.1.0")
    sets = [
        ("binance_bookTicker_hftbacktest", TICKER, TickerKafka, [f for f in hft if "@bookTicker\"" in f[1]]),
        ("binance_aggTrade_cryptofeed", TRADES, TradeKafka, [f for f in cf if "@aggTrade\"" in f[1]]),
        ("binance_bookTicker_cryptofeed", TICKER, TickerKafka, [f for f in cf if "@bookTicker\"" in f[1]]),
    ]
    for name, channel, backend, frames in sets:
        assert frames, name
        for variant, callback in [("noop", noop), ("kafka_serialization", serializing(backend))]:
            ns = asyncio.run(run(frames, channel, callback))
            print(json.dumps({
                "case": name,
                "variant": variant,
                "frames": len(frames),
                "rounds": ROUNDS,
                "median_ns_per_frame": round(ns, 1),
                "cryptofeed": VERSION,
            }), flush=True)


if __name__ == "__main__":
    main()
