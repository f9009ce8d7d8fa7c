//! The operator's admin endpoints, on their own port: `/healthz` (the process runs), `/readyz`
//! (the operator can do its job: it leads and its controller has started, or it is a standby
//! waiting for the Lease, which is also healthy), and `/metrics` (Prometheus text).
//!
//! Metric labels are bounded: results and error categories are fixed sets, and no metric is
//! labelled by Gateway name (a cluster can have thousands).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What the operator is doing, as `/readyz` and the `leader` gauge report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Connecting to the API server and checking the CRDs.
    Starting = 0,
    /// Waiting for the leader-election Lease (another replica leads).
    Standby = 1,
    /// Leading: the controller runs.
    Leading = 2,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: &'static str,
}

/// The operator's metrics (prefix `toolyard_operator_`).
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    errors: Family<CategoryLabels, Counter>,
    duration: Histogram,
    writes: Counter,
    leader: Gauge,
    phase: AtomicU8,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("toolyard_operator");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let errors = Family::<CategoryLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let writes = Counter::default();
        let leader = Gauge::default();
        registry.register(
            "reconciles",
            "Gateway reconciles by result (ok, error)",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed Gateway reconciles by error category (DereferenceFailed, RenderFailed, ApplyFailed, StatusFailed, ApiFailed, InvalidObject, MissingMetadata)",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time of one Gateway reconcile, from the cache read to the status write",
            duration.clone(),
        );
        registry.register(
            "object_writes",
            "Objects the operator created or changed (children and statuses); a steady state writes nothing",
            writes.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader-election Lease (or runs without leader election)",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            writes,
            leader,
            phase: AtomicU8::new(Phase::Starting as u8),
        }
    }
}

impl Metrics {
    /// Records one finished reconcile; `error` is the failure's category.
    pub fn reconciled(&self, took: Duration, error: Option<&'static str>) {
        self.duration.observe(took.as_secs_f64());
        let result = if error.is_some() { "error" } else { "ok" };
        self.reconciles
            .get_or_create(&ResultLabels { result })
            .inc();
        if let Some(category) = error {
            self.errors
                .get_or_create(&CategoryLabels { category })
                .inc();
        }
    }

    /// Counts one object write (an apply that changed something, or a status update).
    pub fn wrote(&self) {
        self.writes.inc();
    }

    /// Moves to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.leader.set(i64::from(phase == Phase::Leading));
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            1 => Phase::Standby,
            2 => Phase::Leading,
            _ => Phase::Starting,
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The admin router.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(metrics)
}

async fn readyz(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.phase() {
        Phase::Leading => (StatusCode::OK, "leading").into_response(),
        // A standby replica is ready: it takes over when the leader goes away.
        Phase::Standby => (StatusCode::OK, "standby").into_response(),
        Phase::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting").into_response(),
    }
}

async fn metrics_text(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {e}"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_results_and_categories() {
        let m = Metrics::default();
        m.reconciled(Duration::from_millis(3), None);
        m.reconciled(Duration::from_millis(5), Some("ApplyFailed"));
        m.wrote();
        m.set_phase(Phase::Leading);
        let text = m.encode().unwrap();
        assert!(text.contains(r#"toolyard_operator_reconciles_total{result="ok"} 1"#));
        assert!(text.contains(r#"toolyard_operator_reconciles_total{result="error"} 1"#));
        assert!(
            text.contains(r#"toolyard_operator_reconcile_errors_total{category="ApplyFailed"} 1"#)
        );
        assert!(text.contains("toolyard_operator_reconcile_duration_seconds_count 2"));
        assert!(text.contains("toolyard_operator_object_writes_total 1"));
        assert!(text.contains("toolyard_operator_leader 1"));
    }

    #[test]
    fn standby_is_ready_starting_is_not() {
        let m = Metrics::default();
        assert_eq!(m.phase(), Phase::Starting);
        m.set_phase(Phase::Standby);
        assert_eq!(m.phase(), Phase::Standby);
        m.set_phase(Phase::Leading);
        assert_eq!(m.phase(), Phase::Leading);
    }
}
