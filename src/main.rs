//! The binary edge: command line, logging, exit codes.
//!
//! Exit codes: 0 success (`check`: every route resolves; `probe`: every agent has a
//! working model); 1 the answer is "no" (`check`: findings; `probe`: an agent with no
//! working model); 2 clawprobe could not do its job: a config or command-line error, an
//! address it cannot listen on, or (`check`, `probe`) an OpenClaw install that is missing
//! or unreadable while `[openclaw] enabled`. `serve` never exits because of OpenClaw's
//! files: it reports them on `/metrics` and keeps serving.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use clawprobe::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "clawprobe",
    version,
    long_version = clawprobe::build_info::LONG_VERSION,
    about = "Budgeted synthetic monitor and Prometheus exporter for OpenClaw model routes"
)]
struct Cli {
    /// clawprobe TOML config file (default: the embedded default, see `config default`).
    #[arg(long, global = true, env = "CLAWPROBE_CONFIG")]
    config: Option<PathBuf>,
    /// Log level filter (error, warn, info, debug, trace or a tracing filter).
    #[arg(
        long = "log.level",
        global = true,
        default_value = "info",
        env = "CLAWPROBE_LOG"
    )]
    log_level: String,
    /// Web config file (Prometheus exporter-toolkit format) for TLS and basic auth on every
    /// endpoint of `serve`; see docs/web-config.md. Re-read when it or its files change.
    #[arg(long = "web.config.file", global = true, env = "CLAWPROBE_WEB_CONFIG")]
    web_config_file: Option<PathBuf>,
    /// Address to listen on for `serve` (host:port), as Prometheus exporters spell it;
    /// overrides `server.listen` of the config, also on reloads.
    #[arg(
        long = "web.listen-address",
        global = true,
        env = "CLAWPROBE_WEB_LISTEN_ADDRESS"
    )]
    web_listen_address: Option<String>,
    /// Log format: logfmt (`time=… level=… msg=…`, one line per event) or json; `text` is
    /// accepted as another name for logfmt. No colour unless stderr is a terminal.
    #[arg(
        long = "log.format",
        global = true,
        value_enum,
        default_value = "logfmt"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    #[value(alias = "text")]
    Logfmt,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the exporter (the default).
    Serve,
    /// Show every agent's model chain and static findings; no requests are sent.
    Check {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Probe every model once and print the results.
    Probe {
        /// Only this agent.
        #[arg(long)]
        agent: Option<String>,
        /// Which probe tier to use.
        #[arg(long, value_enum, default_value = "auto")]
        tier: TierArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TierArg {
    Metadata,
    Generation,
    Auto,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the embedded default configuration.
    Default,
}

fn init_logging(level: &str, format: LogFormat) {
    // tokio-cron-scheduler logs its own lifecycle at info; keep it quiet unless asked for.
    let directives = if level.contains("tokio_cron_scheduler") {
        level.to_string()
    } else {
        format!("{level},tokio_cron_scheduler=warn")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Escape codes only for a person at a terminal: journald and container logs show
    // them as blobs. NO_COLOR (no-color.org) turns them off there too.
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    match format {
        LogFormat::Logfmt => builder
            .event_format(clawprobe::logfmt::Logfmt { colour })
            .init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, clawprobe::config::ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => Ok(Config::embedded_default()),
    }
}

fn main() -> ExitCode {
    clawprobe::alloc::tune();
    let cli = Cli::parse();
    init_logging(&cli.log_level, cli.log_format);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("clawprobe: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Config {
        command: ConfigCommand::Default,
    } = command
    {
        print!("{}", clawprobe::config::DEFAULT_TOML);
        return Ok(0);
    }
    let config = load_config(cli.config.as_ref())?;
    match command {
        Command::Config { .. } => unreachable!("handled above"),
        Command::Serve => {
            let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
            let options = clawprobe::cmd::serve::ServeOptions {
                web_config_file: cli.web_config_file.clone(),
                listen_address: cli.web_listen_address.clone(),
            };
            let result = rt.block_on(clawprobe::cmd::serve::run(
                config,
                cli.config.clone(),
                options,
            ));
            // A read abandoned on a FIFO or a stalled file system may still hold a thread
            // of the blocking pool: do not wait for it (the runtime's drop would).
            rt.shutdown_timeout(std::time::Duration::from_millis(500));
            result?;
            Ok(0)
        }
        Command::Check { json } => {
            let plan = clawprobe::plan::install::build_strict(&config)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&clawprobe::cmd::check::render_json(&plan))?
                );
            } else {
                print!("{}", clawprobe::cmd::check::render_table(&plan));
            }
            Ok(if plan.has_findings() { 1 } else { 0 })
        }
        Command::Probe { agent, tier, json } => {
            let plan = clawprobe::plan::install::build_strict(&config)?;
            let opts = clawprobe::cmd::probe::Options {
                agent,
                tier: match tier {
                    TierArg::Metadata => clawprobe::cmd::probe::TierChoice::Metadata,
                    TierArg::Generation => clawprobe::cmd::probe::TierChoice::Generation,
                    TierArg::Auto => clawprobe::cmd::probe::TierChoice::Auto,
                },
                json,
            };
            let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
            let report = rt.block_on(clawprobe::cmd::probe::run(&config, &plan, &opts));
            print!("{}", report.stdout);
            eprint!("{}", report.stderr);
            Ok(report.code as u8)
        }
    }
}
