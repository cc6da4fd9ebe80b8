//! What a REPL user waits for: a trivial line and a tab completion, each the
//! median of 100 tries over one session.
//!
//! ```text
//! cargo run --release --example latency -- [-F CONFIG] HOST
//! ```

use std::time::{Duration, Instant};

use pushy::{Request, Session, Target};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), pushy::Error> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = None;
    if args.first().map(String::as_str) == Some("-F") && args.len() > 1 {
        config = Some(args.remove(1));
        args.remove(0);
    }
    let mut target = Target::parse(args.first().map(String::as_str).unwrap_or("local:"))?;
    if let (Target::Ssh(ssh), Some(config)) = (&mut target, config) {
        ssh.config = Some(config.into());
    }
    let mut session = Session::connect(&target)?;
    session.complete("os.pa")?; // warm: module name caches, imports
    let mut lines = Vec::new();
    let mut completions = Vec::new();
    for i in 0..100 {
        let file = format!("<input-{i}>");
        let start = Instant::now();
        // As the REPL sends a line: complete-or-more in one round trip.
        session
            .request(Request { file: &file, repl: true, if_complete: true, ..Request::new("1") }, &mut |_| Ok(()))?;
        lines.push(start.elapsed());
        let start = Instant::now();
        let (_, items) = session.complete("os.pa")?;
        completions.push(start.elapsed());
        assert!(items.iter().any(|i| i == "os.path"));
    }
    println!("line_median_us={} completion_median_us={}", median(lines).as_micros(), median(completions).as_micros());
    session.close()
}
