//! Log output: tracing-subscriber with the `RUST_LOG` filter (default `info`), pretty or JSON lines, on stderr; and
//! the span every event of a task carries ([`task_span`]), let go while the task holds between polls ([`SpanSlot`]).

use std::future::Future;
use std::sync::{Mutex, PoisonError};

use tracing::Span;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the global subscriber; call once, from `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Pretty => {
            registry.with(tracing_subscriber::fmt::layer().with_target(false).with_writer(std::io::stderr)).init()
        }
    }
}

/// The span of one task's events: its type, id and workflow.
pub fn task_span(task_type: &str, task_id: &str, workflow_id: &str) -> Span {
    tracing::info_span!("task", task_type = %task_type, task_id = %task_id, workflow_id = %workflow_id)
}

/// A task's span, which can be let go while the task holds between polls and made again, with the same fields, when
/// it resumes: its events look the same, and a held task does not keep a span (with the fmt layer ~0.35 KiB each,
/// its formatted fields and extensions).
#[derive(Debug)]
pub struct SpanSlot(Mutex<Option<Span>>);

impl SpanSlot {
    /// A slot holding `span`.
    pub fn new(span: Span) -> Self {
        Self(Mutex::new(Some(span)))
    }

    /// The span, or none while it is let go.
    pub fn current(&self) -> Span {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone().unwrap_or_else(Span::none)
    }

    /// Lets the span go (the task is about to hold).
    pub fn release(&self) {
        let released = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(released);
    }

    /// Makes the span again if it was let go.
    pub fn restore(&self, make: impl FnOnce() -> Span) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(make());
        }
    }
}

/// Runs `future` inside whatever span `slot` holds each time it is polled (as `Instrumented` does with a fixed
/// span). The future is boxed: the caller's state keeps only a pointer to it.
pub fn in_slot<'a, F: Future + Send + 'a>(
    future: F,
    slot: &'a SpanSlot,
) -> impl Future<Output = F::Output> + Send + 'a {
    let mut future = Box::pin(future);
    std::future::poll_fn(move |cx| {
        let span = slot.current();
        let _entered = span.enter();
        future.as_mut().poll(cx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_span_is_none_until_restored() {
        let slot = SpanSlot::new(Span::none());
        slot.release();
        assert!(slot.current().is_none());
        let mut made = 0;
        slot.restore(|| {
            made += 1;
            Span::none()
        });
        slot.restore(|| {
            made += 1;
            Span::none()
        });
        assert_eq!(made, 1, "restored once, kept after");
    }
}
