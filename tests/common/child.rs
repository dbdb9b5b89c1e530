//! A `tickflow` subcommand as a child process: stderr in a file (readable while it runs),
//! signals, scraping its HTTP endpoint, killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Tickflow {
    child: Option<Child>,
    pub pid: u32,
    pub http: std::net::SocketAddr,
    log: PathBuf,
}

impl Tickflow {
    /// `tickflow <args>` with `env`, `TICKFLOW_HTTP__BIND` (gather) / `TICKFLOW_CACHE__HTTP_BIND`
    /// set to a free port, and the repository's tickflow.toml.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_limited(args, env, None)
    }

    /// [`Tickflow::spawn`] with the soft limit of open files set to `nofile`.
    pub fn spawn_limited(args: &[&str], env: &[(&str, &str)], nofile: Option<u32>) -> Self {
        let port = super::stack::free_port();
        let log = std::env::temp_dir().join(format!(
            "tickflow-test-{}-{port}.stderr",
            std::process::id()
        ));
        let http: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let binary = env!("CARGO_BIN_EXE_tickflow");
        let mut cmd = match nofile {
            None => Command::new(binary),
            Some(n) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(binary);
                sh
            }
        };
        cmd.args(args)
            .arg("--config")
            .arg(super::run::repo().join("tickflow.toml"))
            .env("TICKFLOW_HTTP__BIND", http.to_string())
            .env("TICKFLOW_CACHE__HTTP_BIND", http.to_string())
            .env("TICKFLOW_GATHER__PROGRESS_SECS", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        Self {
            pid: child.id(),
            child: Some(child),
            http,
            log,
        }
    }

    /// Open file descriptors of the process now.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map_or(0, Iterator::count)
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        super::stack::send_signal(self.pid, signal);
    }

    /// Status and body of `path`, or `None` when it does not answer.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        super::stack::http_get(self.http, path)
    }

    /// Sum of every sample of metric `name` (any labels), when /metrics answers.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (status, body) = self.get("/metrics")?;
        if status != 200 {
            return None;
        }
        Some(sum_of(&body, name))
    }

    /// Polls `ok` every 100 ms until it holds, or panics after `within` with the log.
    pub fn wait_until(&self, what: &str, within: Duration, mut ok: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + within;
        while !ok(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the exit (killing it after `within`): status, stderr, time it took.
    pub fn wait_exit(&mut self, within: Duration) -> (ExitStatus, String, Duration) {
        let started = Instant::now();
        let mut child = self.child.take().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, self.stderr(), started.elapsed());
            }
            if started.elapsed() > within {
                let _ = child.kill();
                let _ = child.wait();
                panic!("did not exit within {within:?}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tickflow {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sum of every sample of metric `name` (any labels) in a Prometheus text exposition.
pub fn sum_of(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
