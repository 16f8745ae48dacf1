//! `jamey-bench guard`: what the network guard adds to a web tool's request beyond DNS: URL
//! parsing (WHATWG), the host rules, the address classifier and the policy, timed per check
//! with a resolver that answers from memory. The target: p99 <= 0.1 ms.

use anyhow::{bail, Context};
use jamey_tools::net::{HostRule, MapResolver, NetworkGuard, NetworkPolicy};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct GuardArgs {
    /// Checks timed (over a mix of allowed and refused URLs).
    #[arg(long, default_value_t = 200_000)]
    iterations: usize,
}

/// URLs checked in turn: names and literals, allowed and refused, in several spellings.
const URLS: &[&str] = &[
    "https://docs.example.com/guide/intro?lang=en",
    "http://nas.lan:8080/status",
    "http://2130706433/",
    "http://[::ffff:127.0.0.1]/",
    "https://api.example.org/v1/items/42",
    "http://169.254.169.254/latest/meta-data/",
    "http://192.168.1.10:8080/",
    "http://rebind.example/",
    "https://93.184.216.34/",
    "ftp://example.com/file",
];

pub(crate) fn run(args: GuardArgs) -> anyhow::Result<()> {
    if args.iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let rules = |entries: &[&str]| -> anyhow::Result<Vec<HostRule>> {
        entries
            .iter()
            .map(|e| HostRule::parse(e).with_context(|| format!("rule {e}")))
            .collect()
    };
    let policy = NetworkPolicy {
        allow_hosts: rules(&["nas.lan:8080", "192.168.1.0/24:8080", "[fd00::1]:443"])?,
        deny_hosts: rules(&["*.evil.example", "203.0.113.7", "10.9.0.0/16"])?,
        ..NetworkPolicy::default()
    };
    let ip = |text: &str| text.parse().context("bench address");
    let resolver = MapResolver::new()
        .with(
            "docs.example.com",
            vec![ip("93.184.216.34")?, ip("2606:2800:220:1::1")?],
        )
        .with("nas.lan", vec![ip("192.168.1.10")?])
        .with("api.example.org", vec![ip("151.101.1.69")?])
        .with(
            "rebind.example",
            vec![ip("93.184.216.35")?, ip("10.0.0.7")?],
        );
    let guard = NetworkGuard::with_resolver(policy, Arc::new(resolver));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (elapsed, refused) = runtime.block_on(async {
        // Warm up, then time each check.
        for url in URLS.iter().cycle().take(10_000) {
            let _ = guard.check_str(url).await;
        }
        let mut elapsed: Vec<Duration> = Vec::with_capacity(args.iterations);
        let mut refused = 0usize;
        for url in URLS.iter().cycle().take(args.iterations) {
            let started = Instant::now();
            let verdict = guard.check_str(url).await;
            elapsed.push(started.elapsed());
            refused += usize::from(verdict.is_err());
        }
        (elapsed, refused)
    });
    let mut nanos: Vec<u128> = elapsed.iter().map(Duration::as_nanos).collect();
    nanos.sort_unstable();
    let at = |p: f64| nanos[((nanos.len() - 1) as f64 * p / 100.0).round() as usize] as f64 / 1e6;
    let (p50, p99, max) = (at(50.0), at(99.0), at(100.0));
    eprintln!(
        "guard check (parse + classify + policy, in-memory resolver) over {} checks, {refused} \
         refused: p50 {:.4} ms, p99 {:.4} ms, max {:.4} ms (target p99 <= 0.1 ms)",
        nanos.len(),
        p50,
        p99,
        max
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "guard",
            "checks": nanos.len(),
            "refused": refused,
            "p50_ms": p50,
            "p99_ms": p99,
            "max_ms": max,
            "target_p99_ms": 0.1,
            "meets_target": p99 <= 0.1,
        })
    );
    Ok(())
}
