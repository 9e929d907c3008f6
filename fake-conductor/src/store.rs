//! The task store: every task's record, and per task type a ready queue, the parked tasks by due time and an
//! optional block of preloaded tasks that are made on first delivery. Pure bookkeeping; the routes lock it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Stage {
    #[default]
    Queued,
    Delivered,
    Done,
}

#[derive(Debug, Clone, Default)]
struct Rec {
    task_type: u16,
    stage: Stage,
    poll_count: u32,
    first_ns: u64,
    last_ns: u64,
    finish_ns: u64,
    start_epoch_ms: u64,
    /// The input as JSON text; `None`: made from the type's preload template.
    input: Option<Box<str>>,
    /// `outputData` of the last IN_PROGRESS update, as JSON text.
    output: Option<Box<str>>,
    /// The terminal status, once done (an index into [`TERMINAL`]).
    status: u8,
}

/// Terminal statuses as stored; anything else reads as `FAILED`.
const TERMINAL: [&str; 4] = ["", "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"];

/// Preloaded tasks not delivered yet: record indices `next..end`, input from the template.
#[derive(Debug)]
struct Fresh {
    first: u32,
    next: u32,
    end: u32,
    template: Vec<String>,
    release_per_s: u64,
}

#[derive(Debug)]
struct Queue {
    name: String,
    ready: VecDeque<u32>,
    delayed: BinaryHeap<Reverse<(u64, u32)>>,
    fresh: Option<Fresh>,
}

/// An update as far as the store reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Update<'a> {
    #[serde(borrow)]
    pub(crate) task_id: &'a str,
    status: &'a str,
    #[serde(default)]
    callback_after_seconds: u64,
    #[serde(borrow, default)]
    output_data: Option<&'a RawValue>,
    /// A lease extension: the server changes nothing but the task's update time.
    #[serde(default)]
    extend_lease: bool,
}

/// What an update did.
pub(crate) struct Applied {
    /// The task ended (a status other than IN_PROGRESS).
    pub(crate) terminal: bool,
    /// The task is due again at once (wake long polls).
    pub(crate) ready_now: bool,
    /// Its task type, for the next task of an update-v2 reply.
    pub(crate) task_type: u16,
}

#[derive(Debug)]
pub(crate) struct Store {
    recs: Vec<Rec>,
    queues: Vec<Queue>,
    by_name: HashMap<String, u16>,
    started: Instant,
    first_delivery_ns: Option<u64>,
    done: u32,
    completed: u32,
    failed: u32,
    valid: u32,
    duplicates: u32,
    /// Lease extensions received.
    lease_extensions: u32,
    response_timeout_secs: u64,
    expect: String,
}

fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn parse_id(task_id: &str) -> Option<u32> {
    task_id.strip_prefix("t-")?.parse().ok()
}

impl Store {
    pub(crate) fn new(response_timeout_secs: u64, expect: String) -> Self {
        Self {
            recs: Vec::new(),
            queues: Vec::new(),
            by_name: HashMap::new(),
            started: Instant::now(),
            first_delivery_ns: None,
            done: 0,
            completed: 0,
            failed: 0,
            valid: 0,
            duplicates: 0,
            lease_extensions: 0,
            response_timeout_secs,
            expect,
        }
    }

    fn now_ns(&self) -> u64 {
        (self.started.elapsed().as_nanos() as u64).max(1)
    }

    fn queue_of(&mut self, task_type: &str) -> u16 {
        if let Some(index) = self.by_name.get(task_type) {
            return *index;
        }
        let index = self.queues.len() as u16;
        let queue =
            Queue { name: task_type.to_owned(), ready: VecDeque::new(), delayed: BinaryHeap::new(), fresh: None };
        self.queues.push(queue);
        self.by_name.insert(task_type.to_owned(), index);
        index
    }

    pub(crate) fn enqueue(&mut self, task_type: &str, input: &Value) -> String {
        let queue = self.queue_of(task_type);
        let id = self.recs.len() as u32;
        self.recs.push(Rec { task_type: queue, input: Some(input.to_string().into()), ..Rec::default() });
        self.queues[queue as usize].ready.push_back(id);
        format!("t-{id}")
    }

    pub(crate) fn preload(&mut self, task_type: &str, count: u32, template: &str, release_per_s: u64) {
        let queue = self.queue_of(task_type);
        let first = self.recs.len() as u32;
        self.recs.resize(self.recs.len() + count as usize, Rec { task_type: queue, ..Rec::default() });
        let template = template.split("{{ID}}").map(str::to_owned).collect();
        let fresh = Fresh { first, next: first, end: first + count, template, release_per_s };
        self.queues[queue as usize].fresh = Some(fresh);
    }

    /// Moves parked tasks that are due to their ready queues; true if any moved or a paced block may release one.
    pub(crate) fn promote_all(&mut self) -> bool {
        let now = self.now_ns();
        let mut moved = false;
        for queue in &mut self.queues {
            moved |= promote(queue, now) > 0;
            moved |= queue.fresh.as_ref().is_some_and(|f| f.release_per_s > 0 && f.next < f.end);
        }
        moved
    }

    /// Takes up to `count` tasks of `task_type` (marked delivered) as JSON texts.
    pub(crate) fn take(&mut self, task_type: &str, count: usize) -> Vec<String> {
        match self.by_name.get(task_type) {
            Some(queue) => self.take_from(*queue, count),
            None => Vec::new(),
        }
    }

    pub(crate) fn take_from(&mut self, queue: u16, count: usize) -> Vec<String> {
        let now = self.now_ns();
        let first_delivery = self.first_delivery_ns;
        let mut out = Vec::new();
        promote(&mut self.queues[queue as usize], now);
        while out.len() < count {
            let q = &mut self.queues[queue as usize];
            let id = match q.ready.pop_front() {
                Some(id) => id,
                None => match &mut q.fresh {
                    Some(fresh) if fresh.next < fresh.end && fresh.next < fresh.allowed(first_delivery, now) => {
                        fresh.next += 1;
                        fresh.next - 1
                    }
                    _ => break,
                },
            };
            let rec = &mut self.recs[id as usize];
            if rec.stage == Stage::Done {
                continue;
            }
            rec.stage = Stage::Delivered;
            rec.poll_count += 1;
            if rec.first_ns == 0 {
                rec.first_ns = now;
                rec.start_epoch_ms = epoch_ms();
            }
            rec.last_ns = now;
            self.first_delivery_ns.get_or_insert(now);
            out.push(self.task_json(id));
        }
        out
    }

    fn task_json(&self, id: u32) -> String {
        let rec = &self.recs[id as usize];
        let queue = &self.queues[rec.task_type as usize];
        let tt = &queue.name;
        let rt = self.response_timeout_secs;
        let input = match (&rec.input, &queue.fresh) {
            (Some(input), _) => input.to_string(),
            (None, Some(fresh)) => fresh.template.join(&(id - fresh.first).to_string()),
            (None, None) => "{}".to_owned(),
        };
        let output = rec.output.as_deref().unwrap_or("{}");
        format!(
            concat!(
                r#"{{"taskId":"t-{id}","workflowInstanceId":"wf-{id}","taskType":"{tt}","taskDefName":"{tt}","#,
                r#""referenceTaskName":"{tt}_ref","workflowType":"fake","status":"IN_PROGRESS","inputData":{input},"#,
                r#""outputData":{output},"pollCount":{pc},"retryCount":0,"callbackAfterSeconds":0,"#,
                r#""responseTimeoutSeconds":{rt},"startTime":{st},"scheduledTime":{st},"#,
                r#""workflowTask":{{"name":"{tt}","taskReferenceName":"{tt}_ref","type":"SIMPLE","#,
                r#""taskDefinition":{{"name":"{tt}","responseTimeoutSeconds":{rt},"timeoutSeconds":0}}}}}}"#
            ),
            id = id,
            tt = tt,
            input = input,
            output = output,
            pc = rec.poll_count,
            rt = rt,
            st = rec.start_epoch_ms,
        )
    }

    /// Applies an update: `Err` with the status to answer (400 undecodable, 404 unknown task).
    pub(crate) fn apply(&mut self, update: &Update<'_>, body: &[u8]) -> Result<Applied, u16> {
        let id = parse_id(update.task_id).filter(|id| (*id as usize) < self.recs.len()).ok_or(404u16)?;
        let now = self.now_ns();
        let terminal = update.status != "IN_PROGRESS";
        let valid = terminal && update.status == "COMPLETED" && {
            let expected = self.expect.as_bytes();
            expected.is_empty() || body.windows(expected.len()).any(|w| w == expected)
        };
        let rec = &mut self.recs[id as usize];
        let task_type = rec.task_type;
        if update.extend_lease {
            self.lease_extensions += 1;
            return Ok(Applied { terminal: false, ready_now: false, task_type });
        }
        if rec.stage == Stage::Done {
            self.duplicates += 1;
            return Ok(Applied { terminal, ready_now: false, task_type });
        }
        if terminal {
            rec.stage = Stage::Done;
            rec.finish_ns = now;
            rec.output = None;
            rec.status = TERMINAL.iter().position(|s| *s == update.status).unwrap_or(2).max(1) as u8;
            self.done += 1;
            if update.status == "COMPLETED" {
                self.completed += 1;
            } else {
                self.failed += 1;
            }
            self.valid += u32::from(valid);
            return Ok(Applied { terminal, ready_now: false, task_type });
        }
        rec.stage = Stage::Queued;
        rec.output = update.output_data.map(|raw| raw.get().into());
        let queue = &mut self.queues[task_type as usize];
        if update.callback_after_seconds == 0 {
            queue.ready.push_back(id);
            Ok(Applied { terminal, ready_now: true, task_type })
        } else {
            queue.delayed.push(Reverse((now + update.callback_after_seconds * 1_000_000_000, id)));
            Ok(Applied { terminal, ready_now: false, task_type })
        }
    }

    /// `GET /tasks/{id}`: the status and stored output, `None` for an unknown task.
    pub(crate) fn task(&self, task_id: &str) -> Option<Value> {
        let rec = self.recs.get(parse_id(task_id)? as usize)?;
        let status = match (rec.status, rec.stage) {
            (0, Stage::Queued) => "SCHEDULED",
            (0, _) => "IN_PROGRESS",
            (index, _) => TERMINAL[index as usize],
        };
        let output: Value = rec.output.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(json!({}));
        Some(json!({"taskId": task_id, "status": status, "outputData": output, "pollCount": rec.poll_count}))
    }

    /// Tasks of `task_type` waiting: ready, parked and not yet delivered.
    pub(crate) fn queue_len(&self, task_type: &str) -> usize {
        let Some(queue) = self.by_name.get(task_type).map(|q| &self.queues[*q as usize]) else { return 0 };
        queue.ready.len() + queue.delayed.len() + queue.fresh.as_ref().map_or(0, |f| (f.end - f.next) as usize)
    }

    pub(crate) fn stats(&self) -> Value {
        let preloaded: u32 = self.queues.iter().filter_map(|q| q.fresh.as_ref()).map(|f| f.end - f.first).sum();
        let fresh_delivered: u32 = self.queues.iter().filter_map(|q| q.fresh.as_ref()).map(|f| f.next - f.first).sum();
        json!({
            "tasks": self.recs.len(),
            "preloaded": preloaded,
            "done": self.done,
            "completed": self.completed,
            "failed": self.failed,
            "valid": self.valid,
            "duplicates": self.duplicates,
            "leaseExtensions": self.lease_extensions,
            "fresh_delivered": fresh_delivered,
            "uptime_ms": self.started.elapsed().as_millis() as u64,
            "first_delivery_ms": self.first_delivery_ns.map(|n| n / 1_000_000),
        })
    }

    /// Throughput and latency over [first delivery + warmup, + window] (clipped to the last finish).
    pub(crate) fn summary(&self, warmup_ms: u64, window_ms: Option<u64>) -> Value {
        let t0 = self.first_delivery_ns.unwrap_or(0);
        let start = t0 + warmup_ms * 1_000_000;
        let finished = || self.recs.iter().filter(|r| r.stage == Stage::Done);
        let last_finish = finished().map(|r| r.finish_ns).max().unwrap_or(start);
        let end = window_ms.map_or(u64::MAX, |w| start + w * 1_000_000).min(last_finish.max(start));
        let mut poll_to_update = Vec::new();
        let mut end_to_end = Vec::new();
        for r in finished().filter(|r| r.finish_ns > start && r.finish_ns <= end) {
            poll_to_update.push(r.finish_ns - r.last_ns);
            end_to_end.push(r.finish_ns - r.first_ns);
        }
        poll_to_update.sort_unstable();
        end_to_end.sort_unstable();
        let secs = end.saturating_sub(start) as f64 / 1e9;
        json!({
            "window_s": secs,
            "finished_in_window": poll_to_update.len(),
            "tasks_per_s": if secs > 0.0 { poll_to_update.len() as f64 / secs } else { 0.0 },
            "p50_ms": percentile(&poll_to_update, 50.0),
            "p99_ms": percentile(&poll_to_update, 99.0),
            "max_ms": percentile(&poll_to_update, 100.0),
            "e2e_p50_ms": percentile(&end_to_end, 50.0),
            "e2e_p99_ms": percentile(&end_to_end, 99.0),
            "all_done": self.done as usize == self.recs.len(),
            "total_s": last_finish.saturating_sub(t0) as f64 / 1e9,
        })
    }
}

impl Fresh {
    /// The index below which preloaded tasks may have been handed out by `now`.
    fn allowed(&self, first_delivery: Option<u64>, now: u64) -> u32 {
        let released = match (self.release_per_s, first_delivery) {
            (0, _) => return self.end,
            (_, None) => 1,
            (rate, Some(first)) => {
                1 + (u128::from(now.saturating_sub(first)) * u128::from(rate) / 1_000_000_000) as u64
            }
        };
        (u64::from(self.first) + released).min(u64::from(self.end)) as u32
    }
}

/// Moves the due parked tasks of one queue to its ready queue; returns how many.
fn promote(queue: &mut Queue, now: u64) -> usize {
    let mut moved = 0;
    while let Some(Reverse((due, _))) = queue.delayed.peek() {
        if *due > now {
            break;
        }
        if let Some(Reverse((_, id))) = queue.delayed.pop() {
            queue.ready.push_back(id);
            moved += 1;
        }
    }
    moved
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e6)
}
