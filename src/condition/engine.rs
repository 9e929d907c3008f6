//! One evaluator thread: owns a boa `Context` and its parsed-script cache, evaluates jobs until the channel closes,
//! and replaces the `Context` whenever it may be damaged. Nothing from boa leaves this thread.

use std::collections::HashMap;
use std::sync::Arc;

use boa_engine::{Context, JsError, JsValue, Script, Source, js_string};
use serde_json::Value;

use std::time::Duration;

use super::cpu_time::thread_cpu_time;
use super::pool::{Pool, Slot};
use super::verdict::{ScriptValue, verdict};
use super::{ConditionError, Job, Limits, Verdict};

/// Cost units boa runs between yields to the timeout; 10 000 measured ~40 µs slices.
const BUDGET: u32 = 10_000;
/// Parsed scripts kept per `Context`; conditions come from workflow definitions, so a few hundred is plenty.
const MAX_CACHED_SCRIPTS: usize = 512;
/// Evaluations before a `Context` is replaced anyway, bounding what scripts can leave behind in globals.
const EVALUATIONS_PER_CONTEXT: u64 = 100_000;
/// Longest string result quoted in an error message.
const MAX_QUOTED_CHARS: usize = 60;
/// Smallest extension of the wall-clock deadline when the thread has not used its CPU budget yet (the CPU clock
/// has 10 ms ticks).
const MIN_EXTENSION: Duration = Duration::from_millis(10);

/// The thread body: serve jobs until every sender is gone or the watchdog abandons this thread.
pub(super) fn run_thread(pool: &Pool, slot: &Slot) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(error = %error, "Condition evaluator thread could not start its timer runtime.");
            return;
        }
    };
    let limits = pool.limits();
    let cpu = slot.register_thread();
    let mut engine = Engine::new(limits, cpu.clone());
    while let Ok(Job { source, dollar, reply }) = pool.jobs().recv_blocking() {
        slot.start_job(pool.now_ms(), reply);
        let answer = match &dollar {
            None => engine.script(&source).map(|_| None),
            Some(dollar) => engine.evaluate(&runtime, &source, dollar).map(Some),
        };
        slot.end_job(answer);
        if slot.abandoned() {
            break;
        }
        if engine.needs_replacing() {
            // Drop explicitly before building the next one: a Context must never outlive its thread's TLS.
            drop(engine);
            engine = Engine::new(limits, cpu.clone());
        }
    }
    drop(engine);
}

/// A `Context` plus the scripts parsed in it.
struct Engine {
    context: Context,
    scripts: HashMap<Arc<str>, Script>,
    limits: Limits,
    evaluations: u64,
    damaged: bool,
    /// This thread's `/proc` stat file, for its CPU time (None: not Linux, the cap is wall time).
    cpu: Option<Arc<str>>,
}

impl Engine {
    fn new(limits: Limits, cpu: Option<Arc<str>>) -> Self {
        let mut context = Context::default();
        let runtime_limits = context.runtime_limits_mut();
        runtime_limits.set_loop_iteration_limit(limits.loop_iterations);
        runtime_limits.set_recursion_limit(limits.recursion);
        Self { context, scripts: HashMap::new(), limits, evaluations: 0, damaged: false, cpu }
    }

    fn needs_replacing(&self) -> bool {
        self.damaged || self.evaluations >= EVALUATIONS_PER_CONTEXT
    }

    /// The parsed script for `source`, from the cache or parsed now.
    ///
    /// The source is wrapped in a block: `let`/`const` at the top level of a script become global bindings that
    /// outlive it, so the second run of `let done = ...; done` would fail with a redeclaration error. Inside a block
    /// they are scoped to each run, and the block's completion value is still the last expression's value. The
    /// opening brace shares the first line so error line numbers match the user's source.
    fn script(&mut self, source: &Arc<str>) -> Result<Script, ConditionError> {
        if let Some(script) = self.scripts.get(source) {
            return Ok(script.clone());
        }
        let wrapped = format!("{{{source}\n}}");
        let script = Script::parse(Source::from_bytes(wrapped.as_bytes()), None, &mut self.context)
            .map_err(|e| ConditionError::Syntax(first_line(&e.to_string())))?;
        if self.scripts.len() >= MAX_CACHED_SCRIPTS {
            self.scripts.clear();
        }
        self.scripts.insert(source.clone(), script.clone());
        Ok(script)
    }

    fn evaluate(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        source: &Arc<str>,
        dollar: &Value,
    ) -> Result<Verdict, ConditionError> {
        let script = self.script(source)?;
        self.evaluations += 1;
        let value = JsValue::from_json(dollar, &mut self.context).map_err(|e| ConditionError::Input(e.to_string()))?;
        self.context
            .global_object()
            .set(js_string!("$"), value, false, &mut self.context)
            .map_err(|e| ConditionError::Input(e.to_string()))?;
        let (cap, context) = (self.limits.timeout, &mut self.context);
        let cpu = self.cpu.as_deref();
        // The timer must be created inside the runtime, hence the async block.
        let outcome = runtime.block_on(async {
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
        let result = match outcome {
            Err(()) => {
                self.damaged = true;
                return Err(ConditionError::Timeout(self.limits.timeout));
            }
            Ok(Err(error)) => return Err(self.classify(&error)),
            Ok(Ok(result)) => result,
        };
        verdict(&script_value(&result, &mut self.context)).map_err(ConditionError::BadResult)
    }

    fn classify(&mut self, error: &JsError) -> ConditionError {
        let message = first_line(&error.to_string());
        if error.as_engine().is_some() {
            // Runtime limits and engine panics: the VM may hold leftover frames.
            self.damaged = true;
            ConditionError::LimitExceeded(message)
        } else {
            ConditionError::Runtime(message)
        }
    }
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
