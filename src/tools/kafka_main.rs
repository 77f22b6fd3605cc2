//! `kafka.Kafka`: the broker process (`bin/kafka-server-start.sh config/server.properties`).
//! SIGTERM or SIGINT shut it down cleanly (flush, checkpoints, deregister) with exit 0.

use crate::server::{KafkaConfig, KafkaServer};
use std::io::Write;

/// log4j-like lines, as 0.8 operators are used to: `[time] LEVEL message (target)`.
pub fn init_logging() {
    let mut b = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(format!("info,{}=warn", crate::zk::CLIENT_LOG_TARGET)));
    b.format(|buf, record| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        writeln!(buf, "[{}.{:03}] {} {} ({})", now.as_secs(), now.subsec_millis(), record.level(), record.args(), record.target())
    });
    let _ = b.try_init();
}

pub fn main(args: &[String]) -> i32 {
    let mut overrides: Vec<String> = Vec::new();
    let mut file: Option<&String> = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--override" {
            match args.get(i + 1) {
                Some(o) => overrides.push(o.clone()),
                None => {
                    eprintln!("Option override requires an argument");
                    return 1;
                }
            }
            i += 2;
        } else if file.is_none() && !args[i].starts_with("--") {
            file = Some(&args[i]);
            i += 1;
        } else if args[i] == "--help" || args[i] == "-h" {
            println!("USAGE: kafka-server-start.sh [-daemon] server.properties [--override property=value]*");
            return 0;
        } else {
            eprintln!("{} is not a recognized option", args[i].trim_start_matches('-'));
            eprintln!("USAGE: kafka-server-start.sh [-daemon] server.properties [--override property=value]*");
            return 1;
        }
    }
    let Some(file) = file else {
        eprintln!("USAGE: kafka-server-start.sh [-daemon] server.properties [--override property=value]*");
        return 1;
    };
    init_logging();
    if std::env::var_os("KAFKA08_EXIT_WITH_PARENT").is_some() {
        exit_with_parent();
    }
    let config = match KafkaConfig::load_with_overrides(file, &overrides) {
        Ok(c) => c,
        Err(e) => {
            log::error!("Fatal error during KafkaServerStartable startup. Prepare to shutdown: {}", e);
            eprintln!("{}", e);
            return 1;
        }
    };
    for w in KafkaConfig::unknown_key_warnings(&config.props) {
        log::warn!("{}", w);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("kafka08").build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {}", e);
            return 1;
        }
    };
    runtime.block_on(async move {
        let server = match KafkaServer::startup(config).await {
            Ok(s) => s,
            Err(e) => {
                log::error!("Fatal error during KafkaServer startup. Prepare to shutdown: {}", e);
                eprintln!("{}", e);
                return 1;
            }
        };
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cannot install the SIGTERM handler: {}", e);
                return 1;
            }
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        server.shutdown().await;
        0
    })
}

/// Test harnesses set `KAFKA08_EXIT_WITH_PARENT` so that a broker never outlives a test
/// process that died without cleaning up.
fn exit_with_parent() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: as above.
        if unsafe { libc::getppid() } != parent {
            std::process::exit(1);
        }
    });
}
