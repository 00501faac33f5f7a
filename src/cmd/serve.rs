//! `clawprobe serve`: load, plan, schedule, serve, reload.
//!
//! Start-up: the HTTP server listens first (`/healthz` answers at once, `/readyz` says the
//! plan is loading), then the first load runs like any reload, then the scheduler, the
//! traffic follower, the file watcher and the SIGHUP handler start. A reload (SIGHUP,
//! `POST /-/reload`, or a change on disk of a file the plan was read from, or of the
//! OpenClaw config path while it is absent) re-reads the clawprobe TOML and rebuilds the
//! plan on a thread of its own with a deadline (`reload.rs`): neither the HTTP server nor
//! signal handling ever waits on it, and one that overruns is abandoned and counted as
//! failed. A reload that fails keeps the last good plan running, because an exporter that
//! goes dark on a typo hides exactly the outages it is there to show; `serve` never exits
//! because OpenClaw's files are missing or broken: it says so on `/metrics`
//! (`clawprobe_openclaw_install_status`), on the landing page and in the log, and picks
//! them up once fixed. Counters, the status table and the budget live outside the plan,
//! so they survive reloads; the new schedule, budget and probe timeout apply to probes
//! sent after the reload. Unix only (SIGHUP/SIGTERM).

use super::reload::{self, Action, Loaded, Offload, Outcome, Planner};
use crate::class::SkipReason;
use crate::config::Config;
use crate::filestamp::WatchedFiles;
use crate::metrics::Metrics;
use crate::plan::{Install, InstallStatus, ProbePlan, TargetId};
use crate::probe::http::HttpExecutor;
use crate::probe::{Executor, ProbeResult, Tier};
use crate::schedule::cycle::secs;
use crate::schedule::{Readiness, Scheduler};
use crate::server::{self, landing, Backend, BoxFuture, ReloadError};
use crate::state::Store;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

struct ReloadState {
    config: Config,
    watched: WatchedFiles,
    loaded: Loaded,
}

/// The running exporter: what the HTTP server and the reload triggers act on.
pub(crate) struct App {
    scheduler: Arc<Scheduler>,
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    planner: Planner,
    config_path: Option<PathBuf>,
    /// `--web.listen-address`, applied to every config read.
    listen_override: Option<String>,
    /// Serialises reloads and watch checks (each bounded by the deadline).
    state: tokio::sync::Mutex<ReloadState>,
    /// `server.reload_timeout_seconds` of the config in force (read without the lock).
    deadline: Mutex<Duration>,
    offload: Offload,
    /// For the landing page: the install and the last reload's error.
    status: Mutex<landing::Status>,
    /// The last watch check overran (logged once, until one finishes again).
    watch_stuck: AtomicBool,
}

fn ready_timeout(config: &Config) -> Option<Duration> {
    Some(secs(config.server.first_cycle_timeout_seconds))
}

fn reload_deadline(config: &Config) -> Duration {
    secs(config.server.reload_timeout_seconds)
}

impl App {
    /// The exporter for `config`, nothing loaded yet ([`App::reload`] loads it): metrics,
    /// status store and a scheduler driving `executor` (not started: see
    /// [`Scheduler::run`]).
    fn new(
        config: Config,
        config_path: Option<PathBuf>,
        listen_override: Option<String>,
        executor: Arc<dyn Executor>,
        planner: Planner,
    ) -> App {
        let metrics = Arc::new(Metrics::new());
        let store = Arc::new(Store::new());
        let scheduler = Scheduler::new(
            config.schedule.clone(),
            config.budget.clone(),
            executor,
            store.clone(),
            metrics.clone(),
        );
        scheduler.set_ready_timeout(ready_timeout(&config));
        App {
            scheduler,
            metrics,
            store,
            planner,
            config_path,
            listen_override,
            deadline: Mutex::new(reload_deadline(&config)),
            state: tokio::sync::Mutex::new(ReloadState {
                config,
                watched: WatchedFiles::default(),
                loaded: Loaded::Nothing,
            }),
            offload: Offload::default(),
            status: Mutex::new(landing::Status::default()),
            watch_stuck: AtomicBool::new(false),
        }
    }

    fn deadline(&self) -> Duration {
        *self.deadline.lock().expect("deadline lock")
    }

    /// The first load, or a reload: re-reads the clawprobe config (when it came from a file
    /// and this is not the first load), looks at the OpenClaw install and rebuilds the plan,
    /// on a thread of its own, waited for at most `server.reload_timeout_seconds`. On
    /// failure the last good plan keeps running and the error is returned (the first load
    /// then serves `[[targets]]` alone, see `reload.rs`).
    pub(crate) async fn reload(&self, why: &str) -> Result<(), ReloadError> {
        let deadline = self.deadline();
        let Ok(mut st) = tokio::time::timeout(deadline, self.state.lock()).await else {
            let e = ReloadError::InProgress(deadline);
            tracing::error!("config reload ({why}) not started: {e}");
            return Err(e);
        };
        let serving_files = match st.loaded {
            Loaded::Nothing => Vec::new(),
            _ => self.scheduler.plan().watched_files.clone(),
        };
        let req = reload::Request {
            config_path: match st.loaded {
                Loaded::Nothing => None,
                _ => self.config_path.clone(),
            },
            current: st.config.clone(),
            listen_override: self.listen_override.clone(),
            loaded: st.loaded,
            serving_files,
            watching: st.watched.paths().map(Path::to_path_buf).collect(),
            planner: self.planner.clone(),
        };
        let result = self
            .offload
            .run(deadline, move || reload::attempt(req))
            .await;
        let now = SystemTime::now();
        match result {
            Ok(outcome) => self.apply(&mut st, outcome, why, now),
            Err(overrun) => {
                let e = overrun.into_error(deadline);
                if st.watched.paths().next().is_none() {
                    // The first load never finished: watch the config and its `.env` at
                    // least (stat only, no read of a FIFO), so a fix is noticed.
                    let openclaw = st.config.openclaw.clone();
                    let watch = self.offload.run(deadline, move || {
                        WatchedFiles::new(crate::plan::install::inspect_process(&openclaw).paths)
                    });
                    if let Ok(w) = watch.await {
                        st.watched = w;
                    }
                }
                self.overran(&mut st, &e, why, now);
                Err(e)
            }
        }
    }

    /// Applies what an attempt decided.
    fn apply(
        &self,
        st: &mut ReloadState,
        outcome: Outcome,
        why: &str,
        now: SystemTime,
    ) -> Result<(), ReloadError> {
        let first = st.loaded == Loaded::Nothing;
        st.watched = outcome.watched;
        if let Some(install) = outcome.install {
            self.set_install(install);
        }
        let result = match outcome.action {
            Action::Apply {
                plan,
                loaded,
                error,
            } => {
                let config = outcome.config;
                if !first && config.server.listen != st.config.server.listen {
                    tracing::warn!(
                        old = %st.config.server.listen,
                        new = %config.server.listen,
                        "server.listen changed; the new address takes effect after a restart"
                    );
                }
                let plan: Arc<ProbePlan> = Arc::from(plan);
                self.scheduler
                    .set_settings(config.schedule.clone(), config.budget.clone());
                self.scheduler.set_ready_timeout(ready_timeout(&config));
                self.scheduler.set_plan(plan.clone());
                self.metrics.sync_plan(&plan);
                *self.deadline.lock().expect("deadline lock") = reload_deadline(&config);
                st.config = config;
                st.loaded = loaded;
                self.metrics.set_reload(error.is_none(), now);
                match &error {
                    None if first => {}
                    None => tracing::info!(
                        trigger = why,
                        agents = plan.agents.len(),
                        targets = plan.targets.len(),
                        findings = plan.finding_count(),
                        "config reloaded"
                    ),
                    Some(e) => tracing::error!(
                        targets = plan.targets.len(),
                        "loading the configuration failed, serving only [[targets]] until the files are fixed (picked up without a restart): {e}"
                    ),
                }
                drop(plan);
                crate::alloc::trim();
                error.map_or(Ok(()), Err)
            }
            Action::Keep { error } => {
                self.metrics.set_reload(false, now);
                tracing::error!(
                    "config reload ({why}) failed, keeping the last good plan: {error}"
                );
                Err(error)
            }
        };
        self.status.lock().expect("status lock").reload_error =
            result.as_ref().err().map(ToString::to_string);
        result
    }

    /// A (re)load that gave no answer in time: counted as failed; the first load serves
    /// `[[targets]]` alone meanwhile.
    fn overran(&self, st: &mut ReloadState, e: &ReloadError, why: &str, now: SystemTime) {
        let paths = st.watched.paths().map(Path::to_path_buf).collect();
        self.set_install(if st.config.openclaw.enabled {
            Install::unfinished(paths, &e.to_string())
        } else {
            Install {
                status: InstallStatus::Disabled,
                paths,
                problem: None,
            }
        });
        if st.loaded == Loaded::Nothing {
            let mut standalone = st.config.clone();
            standalone.openclaw.enabled = false;
            let plan = Arc::new((self.planner)(&standalone).unwrap_or_default());
            self.scheduler.set_plan(plan.clone());
            self.metrics.sync_plan(&plan);
            st.loaded = Loaded::Standalone;
            tracing::error!(
                "loading the configuration failed, serving only [[targets]] until the files are fixed (picked up without a restart): {e}"
            );
        } else {
            tracing::error!("config reload ({why}) failed, keeping the last good plan: {e}");
        }
        self.metrics.set_reload(false, now);
        self.status.lock().expect("status lock").reload_error = Some(e.to_string());
    }

    /// Records what a load found of the install; logs a change of it.
    fn set_install(&self, install: Install) {
        self.metrics.set_install(install.status);
        let mut status = self.status.lock().expect("status lock");
        let before = status.install.as_ref().map(|i| i.status);
        if before != Some(install.status) {
            match (&install.problem, install.status) {
                (Some(p), InstallStatus::Unreadable) => {
                    tracing::error!(install = %install.status, "OpenClaw install: {p}")
                }
                (Some(p), _) => tracing::warn!(install = %install.status, "OpenClaw install: {p}"),
                (None, s) => tracing::info!(
                    install = %s,
                    config = %install.paths.first().map(|p| p.display().to_string()).unwrap_or_default(),
                    "OpenClaw install"
                ),
            }
        }
        status.install = Some(install);
    }

    /// The first watched file whose content changed, if any (a thread of its own, with the
    /// deadline: a stalled file system must not hang the watcher). The changed files are
    /// stamped at once, so a reload that fails or is abandoned is not retried until they
    /// change again.
    async fn changed_file(&self) -> Option<PathBuf> {
        let deadline = self.deadline();
        let mut st = self.state.lock().await;
        let mut w = st.watched.clone();
        let checked = self
            .offload
            .run(deadline, move || {
                let changed = w.changed().map(Path::to_path_buf);
                if changed.is_some() {
                    w.restamp();
                }
                (changed, w)
            })
            .await;
        match checked {
            Ok((changed, w)) => {
                st.watched = w;
                if self.watch_stuck.swap(false, Ordering::Relaxed) {
                    tracing::info!("checking OpenClaw's files finishes again");
                }
                changed
            }
            Err(e) => {
                if !self.watch_stuck.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "checking OpenClaw's files for changes: {}",
                        e.into_error(deadline)
                    );
                }
                None
            }
        }
    }

    async fn watch_interval(&self) -> Duration {
        Duration::from_secs_f64(self.state.lock().await.config.server.watch_interval_seconds)
    }
}

impl Backend for App {
    fn metrics_text(&self) -> bytes::Bytes {
        self.metrics.render_cached(
            &self.scheduler.plan(),
            &self.store,
            &self.scheduler.budget_remaining(),
            crate::metrics::MAX_AGE,
        )
    }

    fn metrics_gzip(&self) -> Option<bytes::Bytes> {
        Some(self.metrics.render_cached_gzip(
            &self.scheduler.plan(),
            &self.store,
            &self.scheduler.budget_remaining(),
            crate::metrics::MAX_AGE,
        ))
    }

    fn status(&self) -> landing::Status {
        self.status.lock().expect("status lock").clone()
    }

    fn ready(&self) -> Readiness {
        self.scheduler.readiness()
    }

    fn plan(&self) -> Arc<ProbePlan> {
        self.scheduler.plan()
    }

    fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    fn evidence(&self) -> crate::server::landing::Evidence {
        crate::server::landing::Evidence {
            cadence: self.metrics.cadence(),
            traffic: self.metrics.traffic(),
        }
    }

    fn reload(&self) -> BoxFuture<'_, Result<(), ReloadError>> {
        Box::pin(App::reload(self, "POST /-/reload"))
    }

    fn probe_now(
        &self,
        target: TargetId,
        tier: Tier,
    ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>> {
        Box::pin(self.scheduler.probe_now(target, tier))
    }

    fn web_config_reloaded(&self, ok: bool) {
        self.metrics.set_web_config_reload(ok);
    }
}

/// Polls the plan's files (and the OpenClaw config path, also while absent) and reloads
/// when one changes. Interval 0 disables polling (it is re-read after each reload, so it
/// can be switched on without a restart).
async fn watch_files(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let interval = app.watch_interval().await;
        let sleep = if interval.is_zero() {
            Duration::from_secs(5)
        } else {
            interval
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if interval.is_zero() {
            continue;
        }
        if let Some(p) = app.changed_file().await {
            let why = format!("{} changed", p.display());
            let _ = app.reload(&why).await;
        }
    }
}

/// Signal streams, installed first thing so that a SIGHUP or SIGTERM arriving during
/// start-up is handled by us instead of killing the process with the default action.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use anyhow::Context;
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }
}

async fn reload_on_sighup(app: Arc<App>, mut hup: tokio::signal::unix::Signal) {
    while hup.recv().await.is_some() {
        let _ = app.reload("SIGHUP").await;
    }
}

async fn terminate(term: &mut tokio::signal::unix::Signal, int: &mut tokio::signal::unix::Signal) {
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
    }
}

/// Options of `serve` that come from the command line rather than the TOML config.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// `--web.config.file`: TLS and basic auth (exporter-toolkit format).
    pub web_config_file: Option<PathBuf>,
    /// `--web.listen-address`: overrides `server.listen` (also on reloads).
    pub listen_address: Option<String>,
}

/// Whether OpenClaw's log is followed: as [`crate::traffic::log_lookup`] decides, from what
/// the first load found instead of reading the files again here.
fn follow_traffic(config: &Config, install: Option<InstallStatus>) -> bool {
    let t = &config.traffic;
    // A missing install may still appear (a sidecar can start before the gateway writes
    // its state): the follower re-reads OpenClaw's config as it goes and waits for the log.
    t.enabled
        && (t.log_path.is_some()
            || (config.openclaw.enabled && !matches!(install, Some(InstallStatus::Disabled))))
}

/// Runs the exporter until SIGTERM/SIGINT.
pub async fn run(
    mut config: Config,
    config_path: Option<std::path::PathBuf>,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let mut signals = Signals::install()?;
    // The web config is checked before anything listens: a typo in it must not leave an
    // exporter running without the TLS or authentication the operator asked for.
    let web = match &options.web_config_file {
        Some(p) => {
            let w = server::webconfig::WebConfig::load(p)?;
            let l = w.current();
            tracing::info!(
                file = %p.display(),
                tls = l.tls.is_some(),
                basic_auth = l.auth_required(),
                "web config loaded"
            );
            Some(Arc::new(w))
        }
        None => None,
    };
    // The budget's books survive restarts in a state file (never in the OpenClaw directory).
    let env = |k: &str| std::env::var(k).ok();
    config.budget.state_path =
        crate::schedule::ledger::for_config(&config, config_path.as_deref(), &env)?;
    match &config.budget.state_path {
        Some(p) => tracing::info!(file = %p.display(), "budget books kept across restarts"),
        None => tracing::warn!("no HOME, CLAWPROBE_STATE_DIR or [budget] state_file: budget books kept in memory only; daily caps start afresh on a restart"),
    }
    let listen_source = match &options.listen_address {
        Some(a) => {
            config.server.listen.clone_from(a);
            "the --web.listen-address flag".to_string()
        }
        None => config.source.clone(),
    };
    let listener = server::bind(&config.server.listen, &listen_source).await?;
    let addr = server::local_addr(&listener)
        .map(|a| a.to_string())
        .unwrap_or_else(|| config.server.listen.clone());
    let executor = HttpExecutor::from_config(&config)
        .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
    let app = Arc::new(App::new(
        config,
        config_path,
        options.listen_address.clone(),
        Arc::new(executor),
        Arc::new(crate::plan::build),
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    // Serve first: /healthz answers while the plan loads, however long that takes.
    let server_task = tokio::spawn(server::serve_with(
        listener,
        app.clone() as Arc<dyn Backend>,
        server::Limits::default(),
        web,
        stop_rx.clone(),
    ));
    tracing::info!(listen = %addr, "clawprobe listening, loading the plan");
    let loaded = tokio::select! {
        _ = app.reload("start-up") => true,
        _ = terminate(&mut signals.term, &mut signals.int) => false,
    };
    if !loaded {
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), server_task).await;
        tracing::info!("stopped");
        return Ok(());
    }

    let schedule_task = tokio::spawn(app.scheduler.clone().run(stop_rx.clone()));
    let traffic_config = app.state.lock().await.config.clone();
    let install = app.status().install.map(|i| i.status);
    // OpenClaw's own log (read-only): clawprobe_traffic_* and real-traffic evidence.
    let traffic_task = follow_traffic(&traffic_config, install).then(|| {
        let t = crate::traffic::Traffic::new(
            &app.scheduler.plan(),
            Duration::from_secs_f64(traffic_config.traffic.fallback_window_seconds),
        );
        app.scheduler.set_traffic(Some(t.clone()));
        app.metrics.set_traffic(t.clone());
        let s = app.scheduler.clone();
        let plan_now = Arc::new(move || s.plan());
        tokio::spawn(crate::traffic::run(
            t,
            traffic_config,
            plan_now,
            stop_rx.clone(),
        ))
    });
    crate::alloc::trim();
    let watcher = tokio::spawn(watch_files(app.clone(), stop_rx.clone()));
    let hup = tokio::spawn(reload_on_sighup(app.clone(), signals.hup));
    {
        let plan = app.scheduler.plan();
        tracing::info!(
            listen = %addr,
            agents = plan.agents.len(),
            targets = plan.targets.len(),
            findings = plan.finding_count(),
            install = install.map_or("-", InstallStatus::as_str),
            "clawprobe serving /metrics"
        );
    }

    terminate(&mut signals.term, &mut signals.int).await;
    let _ = stop_tx.send(true);
    // Reloads and the log follower may be blocked on a file (a FIFO, a stalled file
    // system): they are abandoned, never waited for.
    hup.abort();
    watcher.abort();
    if let Some(t) = &traffic_task {
        t.abort();
    }
    let grace = Duration::from_secs(10);
    let _ = tokio::time::timeout(grace, async {
        let _ = server_task.await;
        let _ = schedule_task.await;
    })
    .await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::Class;
    use crate::plan::PlanError;
    use crate::plan::{AgentChain, ApiStyle, ChainEntry, Credential, CredentialSource, Target};
    use crate::secret::Secret;
    use http::{Method, StatusCode, Uri};
    use http_body_util::BodyExt;
    use std::future::Future;
    use std::pin::Pin;

    /// The provider as the scheduler sees it: every probe answers `class`, with a
    /// provider message that carries a key.
    struct Answer(Class);

    impl Executor for Answer {
        fn execute<'a>(
            &'a self,
            target: &'a Target,
            tier: Tier,
        ) -> Pin<Box<dyn Future<Output = ProbeResult> + Send + 'a>> {
            let class = self.0;
            Box::pin(async move {
                ProbeResult {
                    http_status: Some(401),
                    latency: Duration::from_millis(7),
                    message: Some("Incorrect API key provided: sk-canaryDONOTLEAK1234".into()),
                    ..ProbeResult::new(target.id, tier, class, "http_401")
                }
            })
        }
    }

    /// A plan with one agent whose chain is `models`, all on openai; with `keyed`, each
    /// model on its own credential (readiness waits for those).
    fn plan_with(models: &[&str], watched: Vec<PathBuf>, keyed: bool) -> ProbePlan {
        let mut p = ProbePlan::default();
        p.watched_files = watched;
        let mut entries = Vec::new();
        for (i, m) in models.iter().enumerate() {
            let mut t = Target::new(
                "openai",
                *m,
                "http://127.0.0.1:9/v1",
                ApiStyle::OpenAiCompletions,
            );
            if keyed {
                t = t.with_credential(Credential::api_key(
                    CredentialSource::Env {
                        var: format!("KEY_{i}"),
                    },
                    Secret::new(format!("sk-test-{m}")),
                ));
            }
            let id = p.intern_target(t);
            let mut e = ChainEntry::new(i, format!("openai/{m}"));
            e.provider = Some("openai".into());
            e.model = Some(m.to_string());
            e.api = Some(ApiStyle::OpenAiCompletions);
            e.target = Some(id);
            entries.push(e);
        }
        p.agents.push(AgentChain {
            agent: "main".into(),
            entries,
        });
        p
    }

    /// An app for `config`, its first load done.
    async fn loaded(
        config: Config,
        path: Option<PathBuf>,
        executor: Arc<dyn Executor>,
        planner: Planner,
    ) -> Arc<App> {
        let app = Arc::new(App::new(config, path, None, executor, planner));
        app.reload("test start-up").await.unwrap();
        app
    }

    /// An app whose planner reads the model list from `models.txt` next to the TOML.
    async fn app(dir: &Path, answer: Class, keyed: bool) -> Arc<App> {
        let toml = dir.join("clawprobe.toml");
        let models = dir.join("models.txt");
        let planner_models = models.clone();
        let planner: Planner = Arc::new(move |_c: &Config| {
            let text = std::fs::read_to_string(&planner_models)
                .map_err(|e| PlanError::Discovery(e.to_string()))?;
            if text.contains("broken") {
                return Err(PlanError::Discovery(format!(
                    "{}: key `agents.list[0].model`: broken",
                    planner_models.display()
                )));
            }
            let ms: Vec<&str> = text.split_whitespace().collect();
            Ok(plan_with(&ms, vec![planner_models.clone()], keyed))
        });
        let config = Config::load(&toml).unwrap();
        loaded(config, Some(toml), Arc::new(Answer(answer)), planner).await
    }

    const TOML: &str = "[openclaw]\nenabled = false\n[server]\nfirst_cycle_timeout_seconds = 3600\n[budget]\nglobal_requests_per_day = 42\n";

    fn setup(models: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clawprobe.toml"), TOML).unwrap();
        std::fs::write(dir.path().join("models.txt"), models).unwrap();
        dir
    }

    async fn get(app: &Arc<App>, method: Method, uri: &str) -> (StatusCode, String) {
        let uri: Uri = uri.parse().unwrap();
        let backend: Arc<dyn server::Backend> = app.clone();
        let resp = server::route(&backend, &method, &uri).await;
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn gauge(text: &str, name: &str) -> Option<f64> {
        crate::metrics::text::sample(text, name, "")
    }

    #[tokio::test]
    async fn reload_success_failure_and_recovery() {
        let dir = setup("gpt-a gpt-b");
        let app = app(dir.path(), Class::Ok, false).await;
        let (s, body) = get(&app, Method::GET, "/metrics").await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("model=\"gpt-b\""), "{body}");
        assert_eq!(
            gauge(&body, "clawprobe_config_last_reload_successful"),
            Some(1.0)
        );
        assert!(
            body.contains("clawprobe_budget_remaining{provider=\"_global\",unit=\"requests\"} 42")
        );

        // A target leaves the plan: its series disappear.
        std::fs::write(dir.path().join("models.txt"), "gpt-a").unwrap();
        let before = app.scheduler.plan();
        let (s, _) = get(&app, Method::POST, "/-/reload").await;
        assert_eq!(s, StatusCode::OK);
        let (_, body) = get(&app, Method::GET, "/metrics").await;
        assert!(!body.contains("gpt-b"), "{body}");
        let reloaded = app.scheduler.plan();
        assert!(!Arc::ptr_eq(&before, &reloaded), "a new plan");

        // A broken TOML: 500 naming file and key, gauge 0, last good plan still served.
        std::fs::write(
            dir.path().join("clawprobe.toml"),
            "[server]\nlisten = \"nope\"\n",
        )
        .unwrap();
        let (s, msg) = get(&app, Method::POST, "/-/reload").await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(msg.contains("clawprobe.toml"), "{msg}");
        assert!(msg.contains("listen"), "{msg}");
        let (_, body) = get(&app, Method::GET, "/metrics").await;
        assert_eq!(
            gauge(&body, "clawprobe_config_last_reload_successful"),
            Some(0.0)
        );
        assert!(body.contains("model=\"gpt-a\""), "{body}");
        assert!(Arc::ptr_eq(&reloaded, &app.scheduler.plan()), "plan kept");

        // Fixed: 200 and gauge 1.
        std::fs::write(
            dir.path().join("clawprobe.toml"),
            "[openclaw]\nenabled = false\n",
        )
        .unwrap();
        let (s, _) = get(&app, Method::POST, "/-/reload").await;
        assert_eq!(s, StatusCode::OK);
        let (_, body) = get(&app, Method::GET, "/metrics").await;
        assert_eq!(
            gauge(&body, "clawprobe_config_last_reload_successful"),
            Some(1.0)
        );

        // GET on reload is not allowed.
        let (s, _) = get(&app, Method::GET, "/-/reload").await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn watched_file_change_triggers_reload_and_failures_keep_the_plan() {
        let dir = setup("gpt-a");
        let app = app(dir.path(), Class::Ok, false).await;
        assert_eq!(app.changed_file().await, None);
        // A change is reported once: the files are stamped again at once, so a reload
        // that fails (or is abandoned) is not retried until they change again.
        std::fs::write(dir.path().join("models.txt"), "gpt-a gpt-b").unwrap();
        assert_eq!(
            app.changed_file().await,
            Some(dir.path().join("models.txt"))
        );
        assert_eq!(app.changed_file().await, None);
        std::fs::write(dir.path().join("models.txt"), "gpt-a gpt-c").unwrap();
        std::fs::write(
            dir.path().join("clawprobe.toml"),
            "[openclaw]\nenabled = false\n[server]\nwatch_interval_seconds = 0.05\n",
        )
        .unwrap();
        app.state.lock().await.config.server.watch_interval_seconds = 0.05;
        let (tx, rx) = watch::channel(false);
        let w = tokio::spawn(watch_files(app.clone(), rx));
        for _ in 0..100 {
            if app.scheduler.plan().targets.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            app.scheduler.plan().targets.len(),
            2,
            "watcher did not reload"
        );
        // A broken OpenClaw file: reload fails once, the plan stays.
        std::fs::write(dir.path().join("models.txt"), "broken!").unwrap();
        for _ in 0..100 {
            if String::from_utf8_lossy(&app.metrics_text())
                .contains("clawprobe_config_last_reload_successful 0")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(String::from_utf8_lossy(&app.metrics_text())
            .contains("clawprobe_config_last_reload_successful 0"));
        let kept = app.scheduler.plan();
        assert_eq!(kept.targets.len(), 2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(Arc::ptr_eq(&kept, &app.scheduler.plan()), "not retried");
        tx.send(true).unwrap();
        w.await.unwrap();
    }

    #[tokio::test]
    async fn readiness_comes_from_the_scheduler_then_the_timeout() {
        let dir = setup("gpt-a gpt-b gpt-c");
        let waiting = app(dir.path(), Class::Ok, true).await;
        // One of the three credentials has had its first probe.
        waiting
            .scheduler
            .probe_now(0, Tier::Metadata)
            .await
            .unwrap();
        let r = waiting.ready();
        assert!(!r.ready);
        assert_eq!(
            r.describe(),
            "not ready: waiting for the first probe of 2 of 3 credentials"
        );
        let (s, body) = get(&waiting, Method::GET, "/readyz").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body, "not ready: waiting for the first probe of 2 of 3 credentials\n",
            "/readyz gets the same text"
        );
        // The timeout is the upper bound: ready then even though the probes are not.
        waiting.scheduler.set_ready_timeout(Some(Duration::ZERO));
        let r = waiting.ready();
        assert!(r.ready);
        assert_eq!(
            get(&waiting, Method::GET, "/readyz").await.0,
            StatusCode::OK
        );
        assert_eq!(r.credentials_probed, 1, "the numbers stay the scheduler's");
        let ready = app(dir.path(), Class::Ok, false).await;
        assert_eq!(ready.ready().describe(), "ready");
    }

    #[tokio::test]
    async fn readyz_healthz_landing_and_probe_routes() {
        let dir = setup("gpt-a gpt-<b>");
        let app_not_ready = app(dir.path(), Class::Auth, true).await;
        let (s, _) = get(&app_not_ready, Method::GET, "/readyz").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        let (s, body) = get(&app_not_ready, Method::GET, "/healthz").await;
        assert_eq!((s, body.trim()), (StatusCode::OK, "ok"));

        let app = app(dir.path(), Class::Auth, false).await;
        let (s, _) = get(&app, Method::GET, "/readyz").await;
        assert_eq!(s, StatusCode::OK);
        let (s, html) = get(&app, Method::GET, "/").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("href=\"metrics\""), "relative links: {html}");
        assert!(html.contains("openai/gpt-&lt;b&gt;"), "not escaped: {html}");
        assert!(!html.contains("gpt-<b>"), "{html}");

        let (s, body) = get(&app, Method::GET, "/probe?agent=main&ref=openai%2Fgpt-a").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["class"], "auth");
        assert_eq!(v["position"], 0);
        assert_eq!(v["probed"], true);
        assert!(!body.contains("canaryDONOTLEAK"), "{body}");
        let (s, _) = get(&app, Method::GET, "/probe?agent=nobody&ref=openai/gpt-a").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = get(&app, Method::GET, "/probe?agent=main&ref=openai/none").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = get(&app, Method::GET, "/probe?agent=main").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        // Over budget: not sent, 429 saying why.
        std::fs::write(
            dir.path().join("clawprobe.toml"),
            "[openclaw]\nenabled = false\n[budget]\nglobal_requests_per_day = 0\n",
        )
        .unwrap();
        let budget_app = self::app(dir.path(), Class::Ok, false).await;
        let (s, body) = get(
            &budget_app,
            Method::POST,
            "/probe?agent=main&ref=openai/gpt-a&tier=generation",
        )
        .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(body.contains("budget"), "{body}");
        let (s, _) = get(&app, Method::GET, "/nope").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    /// A provider that accepts connections and never answers.
    fn silent_provider() -> (std::net::TcpListener, u16) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        (l, port)
    }

    /// `probe_timeout_seconds` takes effect on reload: the HTTP executor follows it, not
    /// only the scheduler's backstop (which would answer `scheduler_timeout` after the old
    /// timeout, or 5 s after the new one).
    #[tokio::test]
    async fn probe_timeout_follows_a_reload() {
        let (_listener, port) = silent_provider();
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("clawprobe.toml");
        let config_text = |timeout: f64| {
            format!(
                "[openclaw]\nenabled = false\n[schedule]\nprobe_timeout_seconds = {timeout}\n\
                 [[targets]]\nname = \"slow\"\nagent = \"main\"\nprovider = \"openai\"\n\
                 model = \"gpt-a\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\napi = \"openai-completions\"\n"
            )
        };
        std::fs::write(&toml, config_text(60.0)).unwrap();
        let config = Config::load(&toml).unwrap();
        let executor = HttpExecutor::new(secs(config.schedule.probe_timeout_seconds)).unwrap();
        let app = loaded(
            config,
            Some(toml.clone()),
            Arc::new(executor),
            Arc::new(crate::plan::build),
        )
        .await;
        std::fs::write(&toml, config_text(0.5)).unwrap();
        app.reload("test").await.unwrap();
        let started = std::time::Instant::now();
        let (s, body) = get(&app, Method::GET, "/probe?agent=main&ref=openai/gpt-a").await;
        let took = started.elapsed();
        assert_eq!(s, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["class"], "timeout", "{body}");
        assert_ne!(v["reason"], "scheduler_timeout", "{body}");
        assert!(
            v["message"].as_str().unwrap_or("").contains("within 0.5s"),
            "{body}"
        );
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }

    /// OpenClaw's own writer saves `openclaw.json` by writing a temp file and renaming it
    /// into place. The watcher sees that even when size and mtime stay the same, and the
    /// reload reads the new chain.
    #[tokio::test]
    async fn watcher_sees_openclaw_json_renamed_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("oc");
        std::fs::create_dir_all(&state).unwrap();
        let oc = state.join("openclaw.json");
        let chain = |m: &str| {
            format!(
                "{{ agents: {{ defaults: {{ model: {{ primary: \"openai/{m}\" }} }}, list: [{{ id: \"main\", default: true }}] }} }}\n"
            )
        };
        std::fs::write(&oc, chain("gpt-5-mini")).unwrap();
        let mtime = std::fs::metadata(&oc).unwrap().modified().unwrap();
        let toml = dir.path().join("clawprobe.toml");
        std::fs::write(
            &toml,
            format!(
                "[openclaw]\nstate_dir = \"{}\"\nconfig_path = \"{}\"\n[server]\nwatch_interval_seconds = 0.05\n",
                state.display(),
                oc.display()
            ),
        )
        .unwrap();
        let config = Config::load(&toml).unwrap();
        let app = loaded(
            config,
            Some(toml),
            Arc::new(Answer(Class::Ok)),
            Arc::new(crate::plan::build),
        )
        .await;
        let plan = app.scheduler.plan();
        assert!(plan.watched_files.contains(&oc), "{:?}", plan.watched_files);
        let model = |app: &App| app.scheduler.plan().agents[0].entries[0].raw_ref.clone();
        assert_eq!(model(&app), "openai/gpt-5-mini");
        let (tx, rx) = watch::channel(false);
        let w = tokio::spawn(watch_files(app.clone(), rx));

        crate::filestamp::rename_into_place(&oc, &chain("gpt-5-nano"));
        let m = std::fs::metadata(&oc).unwrap();
        assert_eq!(m.modified().unwrap(), mtime, "same mtime");
        assert_eq!(m.len() as usize, chain("gpt-5-mini").len(), "same size");
        for _ in 0..100 {
            if model(&app) == "openai/gpt-5-nano" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            model(&app),
            "openai/gpt-5-nano",
            "rename into place not seen"
        );
        tx.send(true).unwrap();
        w.await.unwrap();
    }
}
