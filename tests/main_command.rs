//! The README's main command (`scripts/run.sh`) stopped the way a terminal stops it: Ctrl-C
//! sends SIGINT to the whole foreground process group (the script, and whatever runs in that
//! group), never to one PID. Run from a fresh copy of the repository's files (no `target/`),
//! with `TICKFLOW_BIN` and a configured broker, under load from the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::run::{Summary, assert_topic_holds};
use common::stack::{Broker, RedisServer, free_port, http_get};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The files a clone has that run.sh reads, copied to a fresh directory without `target/`.
fn fresh_copy(test: &str) -> PathBuf {
    let repo = common::run::repo();
    let dir = std::env::temp_dir().join(format!("tickflow-{test}-{}", free_port()));
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::create_dir_all(dir.join("connectors")).unwrap();
    for file in ["scripts/run.sh", "scripts/stack.sh", "tickflow.toml"] {
        std::fs::copy(repo.join(file), dir.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(repo.join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.join("connectors").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    dir
}

/// run.sh as a terminal runs it: the leader of its own process group (setsid), which is the
/// group a terminal's Ctrl-C goes to.
struct MainCommand {
    child: Child,
    gather: SocketAddr,
    log: PathBuf,
    dir: PathBuf,
}

impl MainCommand {
    fn start(
        test: &str,
        broker: &Broker,
        redis: &RedisServer,
        simulator: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let dir = fresh_copy(test);
        let gather: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.join("run.stderr");
        let mut cmd = Command::new("setsid");
        cmd.arg("bash")
            .arg(dir.join("scripts/run.sh"))
            .args(["--simulator", simulator, "--connector", "binance"])
            .current_dir(&dir)
            .env("TICKFLOW_BIN", env!("CARGO_BIN_EXE_tickflow"))
            .env("TICKFLOW_KAFKA__BOOTSTRAP_SERVERS", &broker.bootstrap)
            .env("TICKFLOW_REDIS__URL", redis.url())
            .env("TICKFLOW_HTTP__BIND", gather.to_string())
            .env(
                "TICKFLOW_CACHE__HTTP_BIND",
                format!("127.0.0.1:{}", free_port()),
            )
            .env("TICKFLOW_GATHER__PROGRESS_SECS", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        Self {
            child,
            gather,
            log,
            dir,
        }
    }

    /// A gather metric from its `/metrics`, summed over its labels.
    fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = http_get(self.gather, "/metrics")?;
        Some(common::child::sum_of(&body, name))
    }

    fn wait_until(&self, what: &str, within: Duration, ok: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + within;
        while !ok(self) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGINT to every process of the group, as a terminal's Ctrl-C.
    fn ctrl_c(&self) {
        let group = format!("-{}", self.child.id());
        let ok = Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -INT -- {group}");
    }

    fn wait_exit(&mut self, within: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), self.stderr());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("run.sh still running after {within:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MainCommand {
    fn drop(&mut self) {
        // The group (run.sh), then gather and the cache, in sessions of their own, by the PIDs
        // run.sh printed: nothing is left running when a test fails half way.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        // Only after a failure: once they exited, their PIDs may belong to anything.
        let lines = if std::thread::panicking() {
            self.stderr()
        } else {
            String::new()
        };
        for line in lines.lines() {
            let pid = line
                .strip_prefix("run: tickflow ")
                .and_then(|l| l.split_once("(pid "))
                .and_then(|(_, rest)| rest.split([')', ',']).next())
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
            if let Some(pid) = pid {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn acked(m: &MainCommand) -> f64 {
    m.metric("tickflow_kafka_ticks_acked_total").unwrap_or(0.0)
}

/// One Ctrl-C under load: gather drains within the deadline, nothing is abandoned, every tick
/// it counted is on the topic once, the cache stops after it, and the script exits 0. Before,
/// gather took the terminal's SIGINT and the script's forwarded SIGTERM as two signals and
/// abandoned what was in flight (exit 1). Also the fresh copy: run.sh wrote its cache log to a
/// `target/` that did not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ctrl_c_drains_with_nothing_lost() {
    let test = "one_ctrl_c_drains";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let (base, _sim) = common::start_simulator(5000, Duration::from_secs(20), None).await;
    let mut run = MainCommand::start(test, &broker, &redis, &base, &[]);
    let bootstrap = broker.bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        run.wait_until("20,000 acknowledged ticks", Duration::from_secs(60), |m| {
            acked(m) >= 20_000.0
        });
        run.ctrl_c();
        let (code, stderr) = run.wait_exit(Duration::from_secs(60));
        assert!(
            !stderr.contains("again: abandoning"),
            "one Ctrl-C, one signal:\n{stderr}"
        );
        assert!(!stderr.contains("No such file"), "{stderr}");
        assert!(!stderr.contains("cut short"), "{stderr}");
        let s = Summary::find(&stderr);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(s.ticks.produced >= 20_000, "{stderr}");
        assert_eq!(s.ticks.acked, s.ticks.produced, "{stderr}");
        assert_eq!(s.ticks.not_delivered, 0, "{stderr}");
        assert_eq!(s.frames_abandoned, 0, "{stderr}");
        // Everything produced was acknowledged: exactly that many on the topic, none twice.
        assert_topic_holds(&bootstrap, &s.ticks);
    })
    .await
    .unwrap();
}

/// A second Ctrl-C still abandons at once: the broker frozen so the drain cannot finish, a
/// deadline of two minutes; the second Ctrl-C ends it within seconds, exit 1, accounted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_abandons_at_once() {
    let test = "a_second_ctrl_c";
    let (Some(broker), Some(redis)) = (Broker::start(test), RedisServer::start(test)) else {
        return;
    };
    let (base, _sim) = common::start_simulator(2000, Duration::from_secs(20), None).await;
    let mut run = MainCommand::start(
        test,
        &broker,
        &redis,
        &base,
        &[
            ("TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS", "120000"),
            ("TICKFLOW_CACHE__SHUTDOWN_TIMEOUT_MS", "2000"),
            ("TICKFLOW_KAFKA__QUEUE_BUFFERING_MAX_MESSAGES", "2000"),
        ],
    );
    let result = tokio::task::spawn_blocking(move || {
        run.wait_until("1,000 acknowledged ticks", Duration::from_secs(60), |m| {
            acked(m) >= 1_000.0
        });
        broker.signal("STOP");
        std::thread::sleep(Duration::from_secs(2));
        run.ctrl_c();
        std::thread::sleep(Duration::from_secs(2));
        let first = run.stderr();
        assert!(!first.contains("again: abandoning"), "{first}");
        run.ctrl_c();
        let second = Instant::now();
        let (code, stderr) = run.wait_exit(Duration::from_secs(30));
        broker.signal("CONT");
        assert!(
            second.elapsed() < Duration::from_secs(10),
            "{:?} after the second Ctrl-C:\n{stderr}",
            second.elapsed()
        );
        assert!(stderr.contains("again: abandoning"), "{stderr}");
        assert_eq!(code, Some(1), "{stderr}");
        let s = Summary::find(&stderr);
        assert_eq!(s.ticks.unresolved, 0, "{stderr}");
        assert!(s.ticks.not_delivered > 0, "{stderr}");
    });
    result.await.unwrap();
}
