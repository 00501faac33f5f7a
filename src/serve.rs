//! `clawprobe serve`: load, plan, schedule, serve, reload. OWNER: exporter helper.

use crate::config::Config;

/// Runs the exporter until SIGTERM/SIGINT.
pub async fn run(config: Config, config_path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let _ = (config, config_path);
    anyhow::bail!("serve is not implemented yet")
}
