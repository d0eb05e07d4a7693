//! `scripts/bench/crash.sh`: SIGKILL cycles of each stateful service under concurrent
//! writers, with the figures printed. `crash_campaign [CYCLES] [SERVICE…]`.

#![allow(clippy::unwrap_used)]

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let cycles: usize = args
        .next()
        .map_or(100, |c| c.parse().expect("CYCLES is a number"));
    let mut services: Vec<String> = args.collect();
    if services.is_empty() {
        services = ["storaged", "catalogd", "vectord"]
            .map(String::from)
            .to_vec();
    }
    for s in services {
        let service: &'static str = match s.as_str() {
            "storaged" => "storaged",
            "catalogd" => "catalogd",
            "vectord" => "vectord",
            other => panic!("unknown service {other}"),
        };
        let started = std::time::Instant::now();
        let report = lakehouse_e2e::crash::campaign(service, cycles, 0x5eed).await;
        println!(
            "{} ({:.0} s)",
            report.line(service),
            started.elapsed().as_secs_f64()
        );
    }
}
