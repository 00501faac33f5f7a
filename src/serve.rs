//! `clawprobe serve`: load, plan, schedule, serve, reload. OWNER: exporter helper.
//!
//! Start-up: config (given) → plan → metrics/store/scheduler → HTTP server. A reload (SIGHUP,
//! `POST /-/reload`, or a change on disk of a file the plan was read from) re-reads the
//! clawprobe TOML and rebuilds the plan; a reload that fails keeps the last good plan
//! running, because an exporter that goes dark on a typo hides exactly the outages it is
//! there to show. Counters, the status table and the budget live outside the plan, so they
//! survive reloads. Unix only (SIGHUP/SIGTERM).

use crate::class::SkipReason;
use crate::config::{BudgetSettings, Config, ScheduleSettings};
use crate::filestamp::WatchedFiles;
use crate::metrics::{BudgetRemaining, Metrics};
use crate::plan::{ProbePlan, TargetId};
use crate::probe::{ProbeResult, Tier};
use crate::schedule::Readiness;
use crate::server::{self, Backend, BoxFuture};
use crate::state::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What `serve` needs from the scheduler. A trait so the reload logic and the server can
/// be tested with a fake, and so this file does not depend on the scheduler's internals.
pub(crate) trait Engine: Send + Sync + 'static {
    fn set_plan(&self, plan: Arc<ProbePlan>);
    fn plan(&self) -> Arc<ProbePlan>;
    fn set_settings(&self, schedule: ScheduleSettings, budget: BudgetSettings);
    /// Whether the exporter has a first picture (see [`Readiness`]), before the timeout.
    fn readiness(&self) -> Readiness;
    fn budget_remaining(&self) -> Vec<BudgetRemaining>;
    fn probe_now(
        &self,
        target: TargetId,
        tier: Tier,
    ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>>;
    /// Starts the background schedule; the task ends when `shutdown` turns true.
    fn spawn(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> JoinHandle<()>;
}

/// The real engine: the budgeted scheduler driving the HTTP executor.
mod engine_impl {
    use super::*;
    use crate::schedule::Scheduler;

    impl Engine for Scheduler {
        fn set_plan(&self, plan: Arc<ProbePlan>) {
            Scheduler::set_plan(self, plan)
        }
        fn plan(&self) -> Arc<ProbePlan> {
            Scheduler::plan(self)
        }
        fn set_settings(&self, schedule: ScheduleSettings, budget: BudgetSettings) {
            Scheduler::set_settings(self, schedule, budget)
        }
        fn readiness(&self) -> Readiness {
            Scheduler::readiness(self)
        }
        fn budget_remaining(&self) -> Vec<BudgetRemaining> {
            Scheduler::budget_remaining(self)
        }
        fn probe_now(
            &self,
            target: TargetId,
            tier: Tier,
        ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>> {
            Box::pin(Scheduler::probe_now(self, target, tier))
        }
        fn spawn(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
            tokio::spawn(Scheduler::run(self, shutdown))
        }
    }

    pub(super) fn make_engine(
        config: &Config,
        plan: Arc<ProbePlan>,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Arc<dyn Engine>> {
        let executor: Arc<dyn crate::probe::Executor> = Arc::new(
            crate::probe::http::HttpExecutor::from_config(config)
                .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?,
        );
        let s = Scheduler::new(
            config.schedule.clone(),
            config.budget.clone(),
            executor,
            store,
            metrics,
        );
        s.set_plan(plan);
        Ok(s)
    }
}

/// Builds a plan from a config (the real one is [`crate::plan::build`]; tests inject).
type Planner = Box<dyn Fn(&Config) -> Result<ProbePlan, String> + Send + Sync>;

struct ReloadState {
    config: Config,
    watched: WatchedFiles,
}

/// The running exporter: what the HTTP server and the reload triggers act on.
pub(crate) struct App {
    engine: Arc<dyn Engine>,
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    planner: Planner,
    config_path: Option<PathBuf>,
    started: Instant,
    first_cycle_timeout: Mutex<Duration>,
    /// The "ready by timeout" line was logged.
    timeout_logged: std::sync::atomic::AtomicBool,
    state: tokio::sync::Mutex<ReloadState>,
}

fn summary(plan: &ProbePlan) -> (usize, usize, usize) {
    let findings = plan
        .agents
        .iter()
        .flat_map(|a| &a.entries)
        .filter(|e| e.finding.is_some())
        .count();
    (plan.agents.len(), plan.targets.len(), findings)
}

impl App {
    fn new(
        config: Config,
        config_path: Option<PathBuf>,
        plan: Arc<ProbePlan>,
        engine: Arc<dyn Engine>,
        metrics: Arc<Metrics>,
        store: Arc<Store>,
        planner: Planner,
    ) -> App {
        let watched = WatchedFiles::new(plan.watched_files.iter().cloned());
        App {
            engine,
            metrics,
            store,
            planner,
            config_path,
            started: Instant::now(),
            first_cycle_timeout: Mutex::new(Duration::from_secs_f64(
                config.server.first_cycle_timeout_seconds,
            )),
            timeout_logged: std::sync::atomic::AtomicBool::new(false),
            state: tokio::sync::Mutex::new(ReloadState { config, watched }),
        }
    }

    /// Re-reads the clawprobe config (when it came from a file) and rebuilds the plan.
    /// On failure the last good plan keeps running and the error (no secrets) is returned.
    pub(crate) async fn reload(&self, why: &str) -> Result<(), String> {
        let mut st = self.state.lock().await;
        let loaded = match &self.config_path {
            Some(p) => Config::load(p).map_err(|e| e.to_string()),
            None => Ok(st.config.clone()),
        };
        let built = loaded.and_then(|c| (self.planner)(&c).map(|p| (c, p)));
        let now = SystemTime::now();
        match built {
            Ok((config, plan)) => {
                if config.server.listen != st.config.server.listen {
                    tracing::warn!(
                        old = %st.config.server.listen,
                        new = %config.server.listen,
                        "server.listen changed; the new address takes effect after a restart"
                    );
                }
                let plan = Arc::new(plan);
                self.engine
                    .set_settings(config.schedule.clone(), config.budget.clone());
                self.engine.set_plan(plan.clone());
                self.metrics.sync_plan(&plan);
                self.store.retain_plan(&plan);
                *self.first_cycle_timeout.lock().expect("lock") =
                    Duration::from_secs_f64(config.server.first_cycle_timeout_seconds);
                st.watched = WatchedFiles::new(plan.watched_files.iter().cloned());
                st.config = config;
                self.metrics.set_reload(true, now);
                let (agents, targets, findings) = summary(&plan);
                tracing::info!(trigger = why, agents, targets, findings, "config reloaded");
                drop(plan);
                crate::alloc::trim();
                Ok(())
            }
            Err(e) => {
                let e = crate::secret::redact_key_shapes(&e);
                // Do not retry the same broken files on every watch tick: remember what we saw.
                st.watched.restamp();
                self.metrics.set_reload(false, now);
                tracing::error!("config reload ({why}) failed, keeping the last good plan: {e}");
                Err(e)
            }
        }
    }

    /// Readiness for `/readyz`: the engine's (plan loaded and every credential's first
    /// probe finished, or the first cycle done), or `server.first_cycle_timeout_seconds`
    /// after start, whichever comes first. [`Readiness::describe`] says what is missing.
    pub(crate) fn readiness(&self) -> Readiness {
        let mut r = self.engine.readiness();
        if !r.ready && self.started.elapsed() >= *self.first_cycle_timeout.lock().expect("lock") {
            if !self
                .timeout_logged
                .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                tracing::warn!(
                    credentials = r.credentials,
                    credentials_probed = r.credentials_probed,
                    "ready after server.first_cycle_timeout_seconds; {}",
                    r.describe().trim_start_matches("not ready: ")
                );
            }
            r.ready = true;
        }
        r
    }

    /// The first watched file whose content changed, if any.
    async fn changed_file(&self) -> Option<PathBuf> {
        let mut st = self.state.lock().await;
        st.watched.changed().map(Path::to_path_buf)
    }

    async fn watch_interval(&self) -> Duration {
        Duration::from_secs_f64(self.state.lock().await.config.server.watch_interval_seconds)
    }
}

impl Backend for App {
    fn metrics_text(&self) -> bytes::Bytes {
        let plan = self.engine.plan();
        self.metrics.render_cached(
            &plan,
            &self.store,
            &self.engine.budget_remaining(),
            crate::metrics::MAX_AGE,
        )
    }

    fn ready(&self) -> Result<(), String> {
        let r = self.readiness();
        if r.ready {
            Ok(())
        } else {
            Err(r.describe())
        }
    }

    fn plan(&self) -> Arc<ProbePlan> {
        self.engine.plan()
    }

    fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    fn reload(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(App::reload(self, "POST /-/reload"))
    }

    fn probe_now(
        &self,
        target: TargetId,
        tier: Tier,
    ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>> {
        self.engine.probe_now(target, tier)
    }
}

/// Polls the plan's files and reloads when one changes. Interval 0 disables polling (it is
/// re-read after each reload, so it can be switched on without a restart).
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

async fn terminate(mut term: tokio::signal::unix::Signal, mut int: tokio::signal::unix::Signal) {
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
}

/// Runs the exporter until SIGTERM/SIGINT.
pub async fn run(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let signals = Signals::install()?;
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
    let planner: Planner = Box::new(|c: &Config| crate::plan::build(c).map_err(|e| e.to_string()));
    let plan = Arc::new(planner(&config).map_err(anyhow::Error::msg)?);
    let listener = server::bind(&config.server.listen, &config.source).await?;
    let addr = server::local_addr(&listener)
        .map(|a| a.to_string())
        .unwrap_or_else(|| config.server.listen.clone());

    let metrics = Arc::new(Metrics::new());
    let store = Arc::new(Store::new());
    metrics.sync_plan(&plan);
    metrics.set_reload(true, SystemTime::now());
    let engine = engine_impl::make_engine(&config, plan.clone(), store.clone(), metrics.clone())?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let engine_task = engine.clone().spawn(stop_rx.clone());
    let (agents, targets, findings) = summary(&plan);
    let app = Arc::new(App::new(
        config,
        config_path,
        plan,
        engine,
        metrics,
        store,
        planner,
    ));
    crate::alloc::trim();
    let watcher = tokio::spawn(watch_files(app.clone(), stop_rx.clone()));
    let hup = tokio::spawn(reload_on_sighup(app.clone(), signals.hup));

    tracing::info!(listen = %addr, agents, targets, findings, "clawprobe serving /metrics");
    let server_task = tokio::spawn(server::serve_with(
        listener,
        app.clone() as Arc<dyn Backend>,
        server::Limits::default(),
        web,
        stop_rx,
    ));

    terminate(signals.term, signals.int).await;
    let _ = stop_tx.send(true);
    hup.abort();
    let grace = Duration::from_secs(10);
    let _ = tokio::time::timeout(grace, async {
        let _ = server_task.await;
        let _ = watcher.await;
        let _ = engine_task.await;
    })
    .await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::Class;
    use crate::plan::{AgentChain, ApiStyle, ChainEntry, Target};
    use http::{Method, StatusCode, Uri};
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake scheduler: records plans, answers probes from a canned class.
    struct FakeEngine {
        plan: Mutex<Arc<ProbePlan>>,
        set_plans: AtomicUsize,
        done: bool,
        answer: Result<Class, SkipReason>,
    }

    impl Engine for FakeEngine {
        fn set_plan(&self, plan: Arc<ProbePlan>) {
            self.set_plans.fetch_add(1, Ordering::SeqCst);
            *self.plan.lock().unwrap() = plan;
        }
        fn plan(&self) -> Arc<ProbePlan> {
            self.plan.lock().unwrap().clone()
        }
        fn set_settings(&self, _: ScheduleSettings, _: BudgetSettings) {}
        fn readiness(&self) -> Readiness {
            Readiness {
                ready: self.done,
                plan_loaded: true,
                first_cycle_done: false,
                credentials: 3,
                credentials_probed: if self.done { 3 } else { 1 },
            }
        }
        fn budget_remaining(&self) -> Vec<BudgetRemaining> {
            vec![BudgetRemaining {
                provider: "_global".into(),
                unit: "requests",
                remaining: 42.0,
            }]
        }
        fn probe_now(
            &self,
            target: TargetId,
            tier: Tier,
        ) -> BoxFuture<'_, Result<ProbeResult, SkipReason>> {
            let answer = self.answer;
            Box::pin(async move {
                match answer {
                    Ok(class) => Ok(ProbeResult {
                        target,
                        tier,
                        class,
                        reason: "http_401".into(),
                        http_status: Some(401),
                        latency: Duration::from_millis(7),
                        rate_limits: Default::default(),
                        usage: None,
                        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                        message: Some("Incorrect API key provided: sk-canaryDONOTLEAK1234".into()),
                    }),
                    Err(r) => Err(r),
                }
            })
        }
        fn spawn(self: Arc<Self>, _: watch::Receiver<bool>) -> JoinHandle<()> {
            tokio::spawn(async {})
        }
    }

    fn plan_with(models: &[&str], watched: Vec<PathBuf>) -> ProbePlan {
        let mut p = ProbePlan::default();
        p.watched_files = watched;
        let mut entries = Vec::new();
        for (i, m) in models.iter().enumerate() {
            let id = p.intern_target(Target {
                id: 0,
                provider: "openai".into(),
                model: m.to_string(),
                base_url: "http://127.0.0.1:9/v1".into(),
                api: ApiStyle::OpenAiCompletions,
                credential: None,
                headers: vec![],
            });
            entries.push(ChainEntry {
                provider: Some("openai".into()),
                model: Some(m.to_string()),
                api: Some(ApiStyle::OpenAiCompletions),
                target: Some(id),
                ..ChainEntry::new(i, format!("openai/{m}"))
            });
        }
        p.agents.push(AgentChain {
            agent: "main".into(),
            entries,
        });
        p
    }

    /// An app whose planner reads the model list from `models.txt` next to the TOML.
    fn app(dir: &Path, engine: Arc<FakeEngine>) -> Arc<App> {
        let toml = dir.join("clawprobe.toml");
        let models = dir.join("models.txt");
        let planner_models = models.clone();
        let planner: Planner = Box::new(move |_c: &Config| {
            let text = std::fs::read_to_string(&planner_models).map_err(|e| e.to_string())?;
            if text.contains("broken") {
                return Err(format!(
                    "{}: key `agents.list[0].model`: broken",
                    planner_models.display()
                ));
            }
            let ms: Vec<&str> = text.split_whitespace().collect();
            Ok(plan_with(&ms, vec![planner_models.clone()]))
        });
        let config = Config::load(&toml).unwrap();
        let plan = Arc::new(planner(&config).unwrap());
        engine.set_plan(plan.clone());
        let metrics = Arc::new(Metrics::new());
        metrics.set_reload(true, SystemTime::now());
        Arc::new(App::new(
            config,
            Some(toml),
            plan,
            engine,
            metrics,
            Arc::new(Store::new()),
            planner,
        ))
    }

    fn fake(done: bool, answer: Result<Class, SkipReason>) -> Arc<FakeEngine> {
        Arc::new(FakeEngine {
            plan: Mutex::new(Arc::new(ProbePlan::default())),
            set_plans: AtomicUsize::new(0),
            done,
            answer,
        })
    }

    fn setup(models: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("clawprobe.toml"),
            "[openclaw]\nenabled = false\n[server]\nfirst_cycle_timeout_seconds = 3600\n",
        )
        .unwrap();
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
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    #[tokio::test]
    async fn reload_success_failure_and_recovery() {
        let dir = setup("gpt-a gpt-b");
        let engine = fake(true, Ok(Class::Ok));
        let app = app(dir.path(), engine.clone());
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
        let (s, _) = get(&app, Method::POST, "/-/reload").await;
        assert_eq!(s, StatusCode::OK);
        let (_, body) = get(&app, Method::GET, "/metrics").await;
        assert!(!body.contains("gpt-b"), "{body}");
        assert_eq!(engine.set_plans.load(Ordering::SeqCst), 2);

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
        assert_eq!(engine.set_plans.load(Ordering::SeqCst), 2);

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
        let engine = fake(true, Ok(Class::Ok));
        let app = app(dir.path(), engine.clone());
        assert_eq!(app.changed_file().await, None);
        std::fs::write(dir.path().join("models.txt"), "gpt-a gpt-c").unwrap();
        assert_eq!(
            app.changed_file().await,
            Some(dir.path().join("models.txt"))
        );
        std::fs::write(
            dir.path().join("clawprobe.toml"),
            "[openclaw]\nenabled = false\n[server]\nwatch_interval_seconds = 0.05\n",
        )
        .unwrap();
        app.state.lock().await.config.server.watch_interval_seconds = 0.05;
        let (tx, rx) = watch::channel(false);
        let w = tokio::spawn(watch_files(app.clone(), rx));
        for _ in 0..100 {
            if engine.plan().targets.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(engine.plan().targets.len(), 2, "watcher did not reload");
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
        assert_eq!(engine.plan().targets.len(), 2);
        let before = engine.set_plans.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(engine.set_plans.load(Ordering::SeqCst), before);
        tx.send(true).unwrap();
        w.await.unwrap();
    }

    #[tokio::test]
    async fn readiness_comes_from_the_engine_then_the_timeout() {
        let dir = setup("gpt-a");
        let waiting = app(dir.path(), fake(false, Ok(Class::Ok)));
        let r = waiting.readiness();
        assert!(!r.ready);
        assert_eq!(
            r.describe(),
            "not ready: waiting for the first probe of 2 of 3 credentials"
        );
        assert_eq!(
            Backend::ready(&*waiting),
            Err("not ready: waiting for the first probe of 2 of 3 credentials".into()),
            "/readyz gets the same text"
        );
        // The timeout is the upper bound: ready then even though the engine is not.
        *waiting.first_cycle_timeout.lock().unwrap() = Duration::ZERO;
        let r = waiting.readiness();
        assert!(r.ready && Backend::ready(&*waiting).is_ok());
        assert_eq!(r.credentials_probed, 1, "the numbers stay the engine's");
        let ready = app(dir.path(), fake(true, Ok(Class::Ok)));
        assert_eq!(ready.readiness().describe(), "ready");
    }

    #[tokio::test]
    async fn readyz_healthz_landing_and_probe_routes() {
        let dir = setup("gpt-a gpt-<b>");
        let app_not_ready = app(dir.path(), fake(false, Ok(Class::Auth)));
        let (s, _) = get(&app_not_ready, Method::GET, "/readyz").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        let (s, body) = get(&app_not_ready, Method::GET, "/healthz").await;
        assert_eq!((s, body.trim()), (StatusCode::OK, "ok"));

        let app = app(dir.path(), fake(true, Ok(Class::Auth)));
        let (s, _) = get(&app, Method::GET, "/readyz").await;
        assert_eq!(s, StatusCode::OK);
        let (s, html) = get(&app, Method::GET, "/").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("href=\"/metrics\""), "{html}");
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

        let budget_app = self::app(dir.path(), fake(true, Err(SkipReason::Budget)));
        let (s, body) = get(
            &budget_app,
            Method::GET,
            "/probe?agent=main&ref=openai/gpt-a",
        )
        .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(body.contains("budget"), "{body}");
        let (s, _) = get(&app, Method::GET, "/nope").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}
