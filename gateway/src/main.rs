//! `toolyard-gateway`: serves MCP at `/mcp` from a folder of Gateway/GatewayTarget manifests
//! (standalone mode), hot-reloading them; admin endpoints on a separate port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use clap::Parser;
use toolyard_gateway::admin::{self, Metrics};
use toolyard_gateway::drain::{self, Draining};
use toolyard_gateway::mcp;
use toolyard_gateway::mcp::session::{SessionKey, SignedSessions};
use toolyard_gateway::runtime::Runtime;
use toolyard_gateway::source::watch;
use toolyard_gateway::telemetry::{self, LogFormat};

/// Toolyard MCP gateway.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A manifest file or folder (Gateway, GatewayTargets, ConfigMaps, Secrets), watched for changes.
    #[arg(long, env = "TOOLYARD_CONFIG")]
    #[cfg_attr(feature = "kube", arg(required_unless_present = "kube_config_map"))]
    #[cfg_attr(not(feature = "kube"), arg(required = true))]
    config: Option<PathBuf>,
    /// In-cluster mode: the ConfigMap holding the compiled config (written by the operator),
    /// watched through the API server instead of `--config`.
    #[cfg(feature = "kube")]
    #[arg(
        long,
        env = "TOOLYARD_KUBE_CONFIG_MAP",
        conflicts_with = "config",
        requires = "kube_secret"
    )]
    kube_config_map: Option<String>,
    /// In-cluster mode: the Secret holding the credential values the config refers to.
    #[cfg(feature = "kube")]
    #[arg(long, env = "TOOLYARD_KUBE_SECRET", requires = "kube_config_map")]
    kube_secret: Option<String>,
    /// In-cluster mode: namespace of both objects (default: the kubeconfig's or the pod's).
    #[cfg(feature = "kube")]
    #[arg(long, env = "TOOLYARD_NAMESPACE", requires = "kube_config_map")]
    namespace: Option<String>,
    /// In-cluster mode: this replica's name, under which it reports the config revision it serves
    /// (the pod name; default: the host name, which is the pod name in a pod).
    #[cfg(feature = "kube")]
    #[arg(long, env = "POD_NAME", requires = "kube_config_map")]
    replica: Option<String>,
    /// Address of the MCP endpoint.
    #[arg(long, default_value = "127.0.0.1:8080", env = "TOOLYARD_LISTEN")]
    listen: SocketAddr,
    /// Address of the admin endpoints (/healthz, /readyz, /metrics).
    #[arg(long, default_value = "127.0.0.1:9090", env = "TOOLYARD_ADMIN_LISTEN")]
    admin_listen: SocketAddr,
    /// Which Gateway to serve when the manifests hold several.
    #[arg(long, env = "TOOLYARD_GATEWAY")]
    gateway: Option<String>,
    /// Print the compiled config (JSON) and exit.
    #[arg(long)]
    print_config: bool,
    /// The sentence-embedding model `spec.search` uses when it configures no
    /// `embedding` (a directory with model.safetensors, tokenizer.json and config.json). Used only
    /// if the directory exists; the gateway image carries its default model there.
    #[arg(
        long,
        env = "TOOLYARD_DEFAULT_EMBEDDING_MODEL",
        default_value = toolyard_gateway::runtime::search::DEFAULT_MODEL_DIR
    )]
    default_embedding_model: PathBuf,
    /// A file holding the key (at least 32 bytes) that signs MCP session ids; every replica of a
    /// Gateway must share it so any replica serves any session. The operator mounts a Secret.
    #[arg(
        long,
        env = "TOOLYARD_SESSION_KEY_FILE",
        conflicts_with = "session_key"
    )]
    session_key_file: Option<PathBuf>,
    /// The session-signing key itself (at least 32 bytes). Without a key or key file, a random key
    /// is generated: sessions are then valid on this process only.
    #[arg(long, env = "TOOLYARD_SESSION_KEY", hide_env_values = true)]
    session_key: Option<String>,
    /// On SIGTERM, seconds to keep accepting connections after `/readyz` starts failing, so
    /// load balancers and kube-proxy stop sending new ones first (SIGINT skips the wait).
    #[arg(long, default_value_t = 3, env = "TOOLYARD_DRAIN_SECONDS")]
    drain_seconds: u64,
    /// After the drain, at most this many seconds for in-flight requests (and open streams) to
    /// finish before the process exits.
    #[arg(long, default_value_t = 20, env = "TOOLYARD_SHUTDOWN_TIMEOUT_SECONDS")]
    shutdown_timeout_seconds: u64,
    /// Log line format: `text` (default) or `json` (one JSON object per line).
    #[arg(long, value_enum, env = "TOOLYARD_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Same as `--log-format json` (kept for existing deployments); `--log-format` wins.
    #[arg(long, env = "TOOLYARD_LOG_JSON")]
    log_json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One process-wide rustls provider (ring) before any HTTP client is built: reqwest 0.13 uses
    // the installed one, and would otherwise fall back to aws-lc-rs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // aws-sigv4 traces canonical requests, which hold the session token: never at any level.
    let filter = match toolyard_gateway::aws::LOG_FILTER.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let format = match (args.log_format, args.log_json) {
        (Some(f), _) => f,
        (None, true) => LogFormat::Json,
        (None, false) => LogFormat::Text,
    };
    // Before the async runtime: the OTLP exporter's blocking client must not start inside one.
    // Dropped last, at the end of `main`, so the last spans are flushed.
    let _telemetry = match telemetry::init(format, filter, "toolyard-gateway") {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("toolyard-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.print_config {
        return print_config(&args);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("toolyard-gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_config(args: &Args) -> ExitCode {
    let Some(path) = &args.config else {
        eprintln!("toolyard-gateway: --print-config needs --config");
        return ExitCode::FAILURE;
    };
    match watch::load(path, args.gateway.as_deref()) {
        Ok((config, _secrets, reports)) => {
            let mut failed = 0;
            for r in &reports {
                if let Err(e) = &r.outcome {
                    failed += 1;
                    eprintln!(
                        "GatewayTarget {}: {} ({}): {}",
                        r.name, e.reason, e.field, e.message
                    );
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&config).unwrap_or_default()
            );
            // The config is printed either way; a target left out is still a failure (scripts
            // and CI must notice it).
            if failed > 0 {
                eprintln!("toolyard-gateway: {failed} GatewayTarget(s) left out of the config");
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("toolyard-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The session-signing key: the file, the value, or a random one for this process.
fn session_key(args: &Args) -> anyhow::Result<SessionKey> {
    if let Some(path) = &args.session_key_file {
        return Ok(SessionKey::from_file(path)?);
    }
    if let Some(value) = &args.session_key {
        return Ok(SessionKey::from_bytes(
            value.as_bytes(),
            "--session-key / TOOLYARD_SESSION_KEY",
        )?);
    }
    tracing::info!(
        "no session key configured: generated one, so MCP sessions are valid on this process only (set --session-key-file to share sessions across replicas)"
    );
    Ok(SessionKey::generate()?)
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let key = session_key(&args)?;
    // MRTR `requestState` must verify on every replica too: derive its key from the shared one.
    toolyard_gateway::upstream::mrtr::use_shared_key(&key.derive(b"toolyard requestState v1"));
    let sessions = SignedSessions::new(key);
    let runtime = Runtime::new();
    if args.default_embedding_model.join("config.json").is_file() {
        tracing::info!(model = %args.default_embedding_model.display(), "search uses this embedding model unless the Gateway configures another");
        runtime.set_default_embedding(args.default_embedding_model.display().to_string());
    }
    let metrics = Arc::new(Metrics::default());
    let watcher = match &args.config {
        Some(path) => {
            // A bad first config is not fatal: the process stays up (not ready) and loads the fix.
            let _ = watch::reload_once(&runtime, &metrics, path, args.gateway.as_deref());
            tokio::spawn(watch::watch(
                runtime.clone(),
                metrics.clone(),
                path.clone(),
                args.gateway.clone(),
            ))
        }
        None => in_cluster(&args, &runtime, &metrics).await?,
    };
    let max_body = runtime.snapshot().map_or(4 << 20, |s| {
        (s.config.gateway.security.max_request_bytes as usize).max(64 << 10) + (64 << 10)
    });

    let mcp_listener = tokio::net::TcpListener::bind(args.listen).await?;
    let admin_listener = tokio::net::TcpListener::bind(args.admin_listen).await?;
    tracing::info!(mcp = %format!("http://{}/mcp", mcp_listener.local_addr()?), admin = %admin_listener.local_addr()?, "listening");
    // Small JSON-RPC responses must not wait for Nagle + delayed ACK (40 ms per call otherwise).
    let mcp_listener = mcp_listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });

    // Graceful termination, see `toolyard_gateway::drain`.
    let draining = Draining::default();
    let mcp_app = mcp::http::router(runtime.clone(), metrics.clone(), max_body, sessions).layer(
        axum::middleware::from_fn_with_state(draining.clone(), drain::close_connections),
    );
    let admin_app = admin::router(runtime.clone(), metrics.clone(), draining.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mcp_server = axum::serve(mcp_listener, mcp_app).with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let mut mcp_server = std::pin::pin!(mcp_server.into_future());
    let mut admin_server = tokio::spawn(axum::serve(admin_listener, admin_app).into_future());
    let mut watcher = watcher;
    let signal = tokio::select! {
        r = &mut mcp_server => return Ok(r?),
        r = &mut admin_server => return Ok(r??),
        r = &mut watcher => return r?,
        s = shutdown_signal() => s,
    };
    draining.start();
    if signal == Signal::Terminate && args.drain_seconds > 0 {
        tracing::info!(
            drain_seconds = args.drain_seconds,
            "SIGTERM: not ready any more; accepting connections for the drain window"
        );
        tokio::select! {
            r = &mut mcp_server => return Ok(r?),
            _ = tokio::time::sleep(Duration::from_secs(args.drain_seconds)) => {}
        }
    }
    tracing::info!(
        timeout_seconds = args.shutdown_timeout_seconds,
        "not accepting any more; waiting for in-flight requests"
    );
    let _ = stop.send(());
    match tokio::time::timeout(
        Duration::from_secs(args.shutdown_timeout_seconds),
        &mut mcp_server,
    )
    .await
    {
        Ok(r) => r?,
        Err(_) => tracing::warn!(
            timeout_seconds = args.shutdown_timeout_seconds,
            "requests were still in flight at the shutdown timeout; exiting anyway"
        ),
    }
    admin_server.abort();
    Ok(())
}

/// Starts the in-cluster source and waits (briefly) for the first config, so the request size
/// limit below comes from it.
#[cfg(feature = "kube")]
async fn in_cluster(
    args: &Args,
    runtime: &Arc<Runtime>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    use toolyard_gateway::source::kube::{self as kube_source, KubeSource};
    let (Some(config_map), Some(secret)) = (args.kube_config_map.clone(), args.kube_secret.clone())
    else {
        anyhow::bail!(
            "set --config (standalone) or --kube-config-map and --kube-secret (in a cluster)"
        );
    };
    // One process-wide rustls provider, whatever feature unification enabled.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = kube::Client::try_default()
        .await
        .map_err(|e| anyhow::anyhow!("no Kubernetes client (in-cluster or KUBECONFIG): {e}"))?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let replica = args
        .replica
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| format!("gateway-{}", std::process::id()));
    tracing::info!(%namespace, %config_map, %secret, %replica, "watching the config through the API server");
    let source = KubeSource {
        namespace,
        config_map,
        secret,
        replica,
    };
    let mut changes = runtime.subscribe();
    let handle = tokio::spawn(kube_source::watch(
        runtime.clone(),
        metrics.clone(),
        client,
        source,
    ));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), changes.changed()).await;
    Ok(handle)
}

#[cfg(not(feature = "kube"))]
async fn in_cluster(
    _args: &Args,
    _runtime: &Arc<Runtime>,
    _metrics: &Arc<Metrics>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    anyhow::bail!("--config is required (this build has no in-cluster mode)")
}

/// The signal that ends the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    /// SIGTERM: what Kubernetes sends; the process drains first.
    Terminate,
    /// SIGINT (Ctrl-C): stop accepting at once, finish in-flight requests.
    Interrupt,
}

/// Resolves on SIGINT or SIGTERM (what Kubernetes sends), so in-flight requests can finish.
async fn shutdown_signal() -> Signal {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    Signal::Interrupt
}
