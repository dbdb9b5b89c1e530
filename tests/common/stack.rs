//! Real services for end-to-end tests: a tansu broker per test on a free loopback port
//! (in-memory storage), a TCP proxy that can take "the broker" away, and a Kafka test consumer.
//!
//! tansu is found through `TICKFLOW_TANSU`, `PATH` or `~/.cargo/bin` (scripts/test.sh installs
//! it). Without it a test prints a SKIP line and returns, unless `TICKFLOW_REQUIRE_STACK=1`
//! (set by scripts/test.sh), which turns the absence into a failure.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tansu_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TICKFLOW_TANSU") {
        return Some(PathBuf::from(p));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("tansu"))
        .find(|p| p.is_file())
}

fn wait_listening(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A tansu broker process, killed on drop.
pub struct Broker {
    child: Child,
    /// The address clients use (the proxy's when there is one).
    pub bootstrap: String,
}

impl Broker {
    /// Starts a broker on a free port, or `None` (with a SKIP line) when tansu is missing and
    /// not required.
    pub fn start(test: &str) -> Option<Self> {
        let port = free_port();
        Self::start_advertising(test, port, port)
    }

    /// Starts a broker listening on `listen` that tells clients to connect to `advertised`.
    pub fn start_advertising(test: &str, listen: u16, advertised: u16) -> Option<Self> {
        let Some(tansu) = tansu_binary() else {
            assert!(
                std::env::var("TICKFLOW_REQUIRE_STACK").as_deref() != Ok("1"),
                "tansu is required (TICKFLOW_REQUIRE_STACK=1) but was not found"
            );
            eprintln!("SKIP {test}: tansu not found (install: scripts/stack.sh install)");
            return None;
        };
        let child = Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{listen}"),
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{advertised}"),
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(Stdio::null())
            .stderr(match std::env::var_os("TICKFLOW_TEST_BROKER_LOG") {
                // Debugging aid: the broker's log in this directory, one file per port.
                Some(dir) => Stdio::from(
                    std::fs::File::create(PathBuf::from(dir).join(format!("tansu-{listen}.log")))
                        .unwrap(),
                ),
                None => Stdio::null(),
            })
            .spawn()
            .unwrap();
        let broker = Self {
            child,
            bootstrap: format!("127.0.0.1:{advertised}"),
        };
        assert!(
            wait_listening(listen, Duration::from_secs(20)),
            "tansu did not listen"
        );
        Some(broker)
    }
}

impl Broker {
    /// Sends `signal` (e.g. `STOP`, `CONT`) to the broker process: a frozen broker keeps its
    /// connections open and answers nothing.
    pub fn signal(&self, signal: &str) {
        send_signal(self.child.id(), signal);
    }
}

/// `kill -<signal> <pid>`.
pub fn send_signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy in front of the broker. `stop` closes every connection and the listening
/// socket, so clients see exactly what a stopped broker looks like (resets, then refused
/// connections); `start` brings it back on the same port. tansu's in-memory storage would
/// lose every message if the process itself were restarted, so the outage is made here.
pub struct Proxy {
    /// Port clients connect to.
    pub port: u16,
    target: u16,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on a free port forwarding to `target` (not started).
    pub fn new(target: u16) -> Self {
        Self {
            port: free_port(),
            target,
            task: None,
        }
    }

    /// Accepts and forwards connections.
    pub async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Closes the listener and every forwarded connection.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Undecodable messages keyed like real ticks, one on each partition of `ticks.v1`; returns
/// how many.
pub fn produce_garbage(bootstrap: &str, partitions: i32) -> u64 {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for p in 0..partitions {
        producer
            .send(
                BaseRecord::to("ticks.v1")
                    .partition(p)
                    .key("UPBIT:BTC-KRW")
                    .payload(GARBAGE),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    u64::try_from(partitions).unwrap()
}

/// What [`produce_garbage`] writes: a Confluent header and no valid Avro body.
pub const GARBAGE: &[u8] = b"\x00\x00\x00\x00\x01garbage";

/// Every message of `topic` from the beginning, waiting until `at_least` arrived and no new
/// one came for `quiet`, or `timeout` passed.
pub fn consume_all(
    bootstrap: &str,
    topic: &str,
    at_least: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-{}", free_port()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    assert!(!partitions.is_empty(), "topic {topic} has no partitions");
    {
        let mut list = TopicPartitionList::new();
        for p in &partitions {
            list.add_partition_offset(topic, *p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&list).unwrap();
        // Dropped here, before the consumer (librdkafka hangs otherwise; TESTING.md).
    }
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    let quiet = Duration::from_millis(1500);
    let mut last_new = Instant::now();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push(m.detach());
                last_new = Instant::now();
            }
            Some(Err(e)) => panic!("consume {topic}: {e}"),
            None if out.len() >= at_least && last_new.elapsed() > quiet => break,
            None => {}
        }
    }
    out
}

/// `GET path` on `addr` (one request, `Connection: close`): the status and the body, or
/// `None` when nothing answered.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// A message's header as text.
pub fn header(m: &OwnedMessage, name: &str) -> Option<String> {
    let headers = m.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// `redis-server` on loopback `port`, without persistence (callers add options and spawn).
fn redis_server(port: u16) -> Command {
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    cmd
}

/// A redis-server process on a free loopback port (no persistence), killed on drop.
pub struct RedisServer {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl RedisServer {
    /// Starts redis-server, or `None` (with a SKIP line) when it is missing and not required.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_on(test, free_port())
    }

    /// Starts redis-server on `port` (used to restart one on the same address).
    pub fn start_on(test: &str, port: u16) -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok();
        if !found {
            assert!(
                std::env::var("TICKFLOW_REQUIRE_STACK").as_deref() != Ok("1"),
                "redis-server is required (TICKFLOW_REQUIRE_STACK=1) but was not found"
            );
            eprintln!("SKIP {test}: redis-server not found (install: scripts/stack.sh install)");
            return None;
        }
        let child = redis_server(port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self { child, port };
        assert!(
            wait_listening(port, Duration::from_secs(20)),
            "redis-server did not listen"
        );
        Some(server)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl RedisServer {
    /// Sends `signal` (`STOP`: frozen, connections open, nothing answered; `CONT`).
    pub fn signal(&self, signal: &str) {
        send_signal(self.child.id(), signal);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A three-node Redis Cluster (no replicas) on free loopback ports, removed on drop.
pub struct RedisCluster {
    nodes: Vec<Child>,
    /// Node ports.
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them, or `None` (SKIP) when redis-server
    /// is missing and not required.
    pub fn start(test: &str) -> Option<Self> {
        RedisServer::start(test)?; // presence check (and a SKIP line); stopped right away
        let dir = std::env::temp_dir().join(format!("tickflow-cluster-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let nodes = ports
            .iter()
            .map(|p| {
                redis_server(*p)
                    .args([
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &format!("nodes-{p}.conf"),
                    ])
                    .arg("--dir")
                    .arg(&dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let cluster = Self { nodes, ports, dir };
        for p in &cluster.ports {
            assert!(
                wait_listening(*p, Duration::from_secs(20)),
                "cluster node did not listen"
            );
        }
        let addrs: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = cluster.ports.iter().all(|p| {
                Command::new("redis-cli")
                    .args(["-p", &p.to_string(), "cluster", "info"])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
            });
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster never reached cluster_state:ok"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(cluster)
    }

    /// A seed URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.ports[0])
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
