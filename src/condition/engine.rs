//! The JavaScript engine (boa) for conditions outside the native subset. It runs inside an evaluator process
//! ([`super::process`]), never in the worker itself.
//!
//! Isolation: every evaluation gets a `Context` of its own, made before the job arrives ([`Engine::prepare`]) and
//! dropped after it, so nothing one script writes (globals, prototypes, built-ins, `$`) is visible to any other.
//! The candidates measured (BENCHMARKS.md, "Condition isolation"): a reused `Context` is not isolated; a fresh
//! realm in one `Context` cost more than a fresh `Context` and kept growing; freezing the built-ins leaves shared
//! state that is hard to enumerate (the symbol registry, hidden slots) and breaks top-level `var`.
//!
//! Limits: loop iterations, recursion depth, and a cap on the CPU time of one evaluation (boa's budgeted async
//! evaluation under a timer on a current-thread runtime; the timer fires on wall time and the evaluation stops only
//! once the thread has used the cap in CPU time, [`super::cpu_time`]). A native built-in cannot be interrupted here:
//! the supervisor kills the process ([`super::process`]).
//!
//! Nothing from boa leaves this module: it answers with [`Verdict`]s, [`ScriptValue`]s and [`ConditionError`]s.

use std::sync::Arc;
use std::time::Duration;

use boa_engine::{Context, JsError, JsValue, Script, Source, js_string};
use serde_json::Value;

use super::cpu_time::{current_thread_stat_path, thread_cpu_time};
use super::verdict::{ScriptValue, verdict};
use super::{ConditionError, Limits, Verdict};

/// Cost units boa runs between yields to the timer; 10 000 measured ~40 µs slices.
const BUDGET: u32 = 10_000;
/// Longest string result quoted in an error message.
const MAX_QUOTED_CHARS: usize = 60;
/// Smallest extension of the wall-clock deadline when the thread has not used its CPU budget yet (the CPU clock
/// has 10 ms ticks).
const MIN_EXTENSION: Duration = Duration::from_millis(10);

/// Evaluates conditions, each in a fresh `Context`. Single-threaded: it lives on the thread that made it.
pub struct Engine {
    limits: Limits,
    /// The `Context` the next job will use, made while idle.
    spare: Option<Context>,
    /// The last job's `Context`, dropped while idle (dropping one collects its garbage: not the caller's time).
    used: Option<Context>,
    runtime: tokio::runtime::Runtime,
    /// This thread's `/proc` stat file, for its CPU time (None: not Linux; the cap is then wall time).
    cpu: Option<Arc<str>>,
}

impl Engine {
    /// An engine for the calling thread.
    pub fn new(limits: Limits) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
        Ok(Self { limits, spare: None, used: None, runtime, cpu: current_thread_stat_path().map(Arc::from) })
    }

    /// Drops the last job's `Context` and makes the next job's now, so that the job waits for neither.
    pub fn prepare(&mut self) {
        drop(self.used.take());
        if self.spare.is_none() {
            self.spare = Some(self.fresh_context());
        }
    }

    fn fresh_context(&self) -> Context {
        let mut context = Context::default();
        let runtime_limits = context.runtime_limits_mut();
        runtime_limits.set_loop_iteration_limit(self.limits.loop_iterations);
        runtime_limits.set_recursion_limit(self.limits.recursion);
        context
    }

    fn take_context(&mut self) -> Context {
        self.spare.take().unwrap_or_else(|| self.fresh_context())
    }

    /// Parses the condition, so that a syntax error fails the task before any request is made.
    pub fn compile(&mut self, source: &str) -> Result<(), ConditionError> {
        let mut context = self.take_context();
        let parsed = parse(source, &mut context).map(drop);
        self.used = Some(context);
        parsed
    }

    /// Evaluates the condition with `$` bound to `dollar`, in a `Context` nothing else ever used.
    #[cfg(test)]
    pub fn evaluate(&mut self, source: &str, dollar: &Value) -> Result<Verdict, ConditionError> {
        self.evaluate_announced(source, dollar, &mut || {})
    }

    /// [`Engine::evaluate`], calling `started` once `$` is built and the script begins: the cap counts from there,
    /// and the supervisor needs to know (building `$` from a large body is not the script's time).
    pub fn evaluate_announced(
        &mut self,
        source: &str,
        dollar: &Value,
        started: &mut dyn FnMut(),
    ) -> Result<Verdict, ConditionError> {
        self.evaluate_value_announced(source, dollar, started)
            .and_then(|value| verdict(&value).map_err(ConditionError::BadResult))
    }

    /// [`Engine::evaluate`], returning the script's value rather than its verdict.
    #[cfg(test)]
    pub fn evaluate_value(&mut self, source: &str, dollar: &Value) -> Result<ScriptValue, ConditionError> {
        self.evaluate_value_announced(source, dollar, &mut || {})
    }

    fn evaluate_value_announced(
        &mut self,
        source: &str,
        dollar: &Value,
        started: &mut dyn FnMut(),
    ) -> Result<ScriptValue, ConditionError> {
        let mut context = self.take_context();
        let result = self.run(source, dollar, &mut context, started);
        // Dropped by the next `prepare` or job, on this thread (a Context must never be dropped by a thread-local
        // destructor); never used again.
        drop(self.used.replace(context));
        result
    }

    fn run(
        &self,
        source: &str,
        dollar: &Value,
        context: &mut Context,
        started: &mut dyn FnMut(),
    ) -> Result<ScriptValue, ConditionError> {
        let script = parse(source, context)?;
        let value = JsValue::from_json(dollar, context).map_err(|e| ConditionError::Input(e.to_string()))?;
        context
            .global_object()
            .set(js_string!("$"), value, false, context)
            .map_err(|e| ConditionError::Input(e.to_string()))?;
        started();
        let cap = self.limits.timeout;
        let cpu = self.cpu.as_deref();
        // The timer must be created inside the runtime, hence the async block.
        let outcome = self.runtime.block_on(async {
            let cpu_at_start = cpu.and_then(thread_cpu_time);
            let mut run = std::pin::pin!(script.evaluate_async_with_budget(context, BUDGET));
            let mut deadline = tokio::time::Instant::now() + cap;
            loop {
                match tokio::time::timeout_at(deadline, run.as_mut()).await {
                    Ok(result) => return Ok(result),
                    Err(_) => {
                        // The wall clock passed the cap; stop only if the script really used that much CPU.
                        let used =
                            cpu.and_then(thread_cpu_time).zip(cpu_at_start).map(|(now, then)| now.saturating_sub(then));
                        match used {
                            Some(used) if used < cap => {
                                deadline = tokio::time::Instant::now() + (cap - used).max(MIN_EXTENSION);
                            }
                            _ => return Err(()),
                        }
                    }
                }
            }
        });
        match outcome {
            Err(()) => Err(ConditionError::Timeout(cap)),
            Ok(Err(error)) => Err(classify(&error)),
            Ok(Ok(result)) => Ok(script_value(&result, context)),
        }
    }
}

/// Parses the source wrapped in a block: `let`/`const` at a script's top level would otherwise become global
/// bindings, and the block's completion value is still the last expression's value. The opening brace shares the
/// first line so error line numbers match the user's source.
fn parse(source: &str, context: &mut Context) -> Result<Script, ConditionError> {
    let wrapped = format!("{{{source}\n}}");
    Script::parse(Source::from_bytes(wrapped.as_bytes()), None, context)
        .map_err(|e| ConditionError::Syntax(first_line(&e.to_string())))
}

fn classify(error: &JsError) -> ConditionError {
    let message = first_line(&error.to_string());
    if error.as_engine().is_some() { ConditionError::LimitExceeded(message) } else { ConditionError::Runtime(message) }
}

fn script_value(value: &JsValue, context: &mut Context) -> ScriptValue {
    if value.is_undefined() {
        ScriptValue::Undefined
    } else if value.is_null() {
        ScriptValue::Null
    } else if let Some(b) = value.as_boolean() {
        ScriptValue::Bool(b)
    } else if let Some(n) = value.as_number() {
        ScriptValue::Number(n)
    } else if value.is_string() {
        let text = value.to_string(context).map(|s| s.to_std_string_escaped()).unwrap_or_default();
        ScriptValue::String(text.chars().take(MAX_QUOTED_CHARS).collect())
    } else if value.is_object() {
        ScriptValue::Object
    } else if value.is_symbol() {
        ScriptValue::Other("symbol")
    } else {
        ScriptValue::Other("bigint")
    }
}

/// Error messages carry a backtrace after the first line; the first line is what a user needs.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_owned()
}
