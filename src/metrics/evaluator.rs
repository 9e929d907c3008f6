//! The evaluator processes' families: kills, respawns by reason, processes by lane.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::Registrar;
use super::labels::{Lane, Reason};
use super::values::{EvaluatorLane, Respawn};

/// Counters of the condition evaluator processes; cheap to clone.
#[derive(Debug, Clone)]
pub struct EvaluatorMetrics {
    kills: Counter,
    respawns: Family<Reason, Counter>,
    processes: Family<Lane, Gauge>,
}

impl EvaluatorMetrics {
    pub(super) fn register(r: &mut Registrar<'_>) -> Self {
        let metrics = Self {
            kills: r.add(
                "condition_evaluator_kills",
                "Evaluator processes killed for overrunning the CPU cap (a native built-in)",
                Counter::default(),
            ),
            respawns: r.add(
                "condition_evaluator_respawns",
                "Evaluator processes replaced: killed, died (out of memory, crash), recycled (memory)",
                Family::default(),
            ),
            processes: r.add(
                "condition_evaluator_processes",
                "Evaluator processes running, by lane",
                Family::default(),
            ),
        };
        for reason in Respawn::ALL.map(Respawn::label) {
            let _ = metrics.respawns.get_or_create(&Reason { reason });
        }
        for lane in EvaluatorLane::ALL.map(EvaluatorLane::label) {
            let _ = metrics.processes.get_or_create(&Lane { lane });
        }
        metrics
    }

    /// A process of `lane` started.
    pub fn process_started(&self, lane: EvaluatorLane) {
        self.processes.get_or_create(&Lane { lane: lane.label() }).inc();
    }

    /// A process of `lane` stopped.
    pub fn process_stopped(&self, lane: EvaluatorLane) {
        self.processes.get_or_create(&Lane { lane: lane.label() }).dec();
    }

    /// A process was replaced for `reason`.
    pub fn respawned(&self, reason: Respawn) {
        self.respawns.get_or_create(&Reason { reason: reason.label() }).inc();
        if reason == Respawn::Killed {
            self.kills.inc();
        }
    }
}
