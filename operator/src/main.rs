//! `toolyard-operator`: flags, logging, leader election and the controller. Wiring only.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::runtime::events::Reporter;
use toolyard_operator::admin::{self, Metrics, Phase};
use toolyard_operator::{controller, leader, render};

/// Toolyard operator: reconciles Gateways and GatewayTargets into MCP gateway Deployments.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Image of the gateway pods, unless a Gateway sets `spec.deployment.image`.
    #[arg(long, env = "TOOLYARD_GATEWAY_IMAGE", default_value = concat!("ghcr.io/toolyard/toolyard-gateway:", env!("CARGO_PKG_VERSION")))]
    gateway_image: String,
    /// Pull policy of the gateway image (`Always`, `IfNotPresent`, `Never`); default: Kubernetes'.
    #[arg(long, env = "TOOLYARD_GATEWAY_IMAGE_PULL_POLICY")]
    gateway_image_pull_policy: Option<String>,
    /// Watch only this namespace (default: every namespace).
    #[arg(long, env = "TOOLYARD_WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Run only while holding a Lease, so several replicas can run safely.
    #[arg(long, env = "TOOLYARD_LEADER_ELECT")]
    leader_elect: bool,
    /// Name of the leader-election Lease.
    #[arg(long, env = "TOOLYARD_LEASE_NAME", default_value = "toolyard-operator")]
    lease_name: String,
    /// Namespace of the leader-election Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's identity in the Lease and in Events (the pod name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Address of the admin endpoints (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "TOOLYARD_ADMIN_ADDR", default_value = "0.0.0.0:8081")]
    admin_addr: std::net::SocketAddr,
    /// Log line format: `text` (default) or `json` (one JSON object per line).
    #[arg(long, value_enum, env = "TOOLYARD_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Same as `--log-format json` (kept for existing installs); `--log-format` wins.
    #[arg(long, env = "TOOLYARD_LOG_JSON")]
    log_json: bool,
}

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let json = match args.log_format {
        Some(format) => format == LogFormat::Json,
        None => args.log_json,
    };
    if json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    // One process-wide rustls provider, whatever feature unification enabled.
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("toolyard-operator: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // The admin endpoints come first, so probes answer while the operator connects and waits.
    let metrics = Arc::new(Metrics::default());
    let listener = tokio::net::TcpListener::bind(args.admin_addr)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} for the admin endpoints: {e}",
                args.admin_addr
            )
        })?;
    tracing::info!(addr = %args.admin_addr, "admin endpoints listening");
    let admin_router = admin::router(metrics.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, admin_router).await {
            tracing::error!(error = %e, "admin server stopped");
        }
    });
    let client = kube::Client::try_default()
        .await
        .map_err(|e| anyhow::anyhow!("no Kubernetes client: {e}"))?;
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("toolyard-operator-{}", std::process::id()));
    let settings = render::Settings {
        gateway_image: args.gateway_image.clone(),
        image_pull_policy: args.gateway_image_pull_policy.clone(),
    };
    let scope = controller::Scope {
        namespace: args.namespace.clone(),
    };
    let reporter = Reporter {
        controller: controller::FIELD_MANAGER.into(),
        instance: Some(identity.clone()),
    };

    let lease = args.leader_elect.then(|| leader::Config {
        name: args.lease_name.clone(),
        namespace: args.lease_namespace.clone(),
        identity: identity.clone(),
        duration: Duration::from_secs(15),
        renew: Duration::from_secs(5),
        retry: Duration::from_secs(2),
    });
    if let Some(lease) = &lease {
        metrics.set_phase(Phase::Standby);
        // A standby replica exits on SIGTERM at once (a rollout must not wait for the kubelet's
        // SIGKILL at the end of the grace period); it holds nothing to release.
        tokio::select! {
            () = leader::acquire(&client, lease) => {}
            () = shutdown_signal() => {
                tracing::info!("shutting down while standing by");
                return Ok(());
            }
        }
    }
    metrics.set_phase(Phase::Leading);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stop_rx.await;
    };
    let controller = controller::run(client.clone(), settings, scope, reporter, metrics, shutdown);
    tokio::pin!(controller);
    let held = async {
        match &lease {
            Some(l) => leader::hold(client.clone(), l.clone()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = &mut controller => r?,
        lost = held => {
            // Stop reconciling at once: another replica may already be leading.
            return Err(anyhow::Error::new(lost).context("leadership lost"));
        }
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            let _ = stop_tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(20), &mut controller).await;
            if let Some(lease) = &lease {
                leader::release(&client, lease).await;
            }
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
