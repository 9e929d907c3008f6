//! Condition result → verdict → decision: every value a script can return maps to a verdict or a message, and the
//! decision after a poll agrees with it (true/1 completes, -1 fails terminally, false/0 polls again until
//! maxPollCount, anything else fails terminally).
#![no_main]

use std::num::NonZeroU32;

use conductor_http_worker::condition::verdict::{ScriptValue, Verdict, verdict};
use conductor_http_worker::http_poll::termination::{Decision, Observation, decide_poll};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    let number = |bytes: &[u8]| {
        let mut raw = [0u8; 8];
        raw[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
        f64::from_le_bytes(raw)
    };
    let value = match kind % 8 {
        0 => ScriptValue::Undefined,
        1 => ScriptValue::Null,
        2 => ScriptValue::Bool(rest.first().is_some_and(|b| b % 2 == 1)),
        3 => ScriptValue::Number(number(rest)),
        4 => ScriptValue::Number(f64::from(i8::from_le_bytes([rest.first().copied().unwrap_or(0)]))),
        5 => ScriptValue::String(String::from_utf8_lossy(rest).into_owned()),
        6 => ScriptValue::Object,
        _ => ScriptValue::Other("symbol"),
    };
    let polls = u32::from(rest.get(1).copied().unwrap_or(1)).max(1);
    let max = NonZeroU32::new(u32::from(rest.get(2).copied().unwrap_or(1)).max(1)).unwrap();
    let mapped = verdict(&value);
    let decision = match &mapped {
        Ok(v) => decide_poll(&Observation::Accepted(Some(Ok(*v))), polls, max),
        Err(message) => {
            assert!(message.contains("terminationCondition must return"));
            return;
        }
    };
    match (mapped, decision) {
        (Ok(Verdict::Holds), Decision::Complete) => {}
        (Ok(Verdict::Fails), Decision::Fail { kind, .. }) if kind.is_terminal() => {}
        (Ok(Verdict::NotYet), Decision::PollAgain) => assert!(polls < max.get()),
        (Ok(Verdict::NotYet), Decision::Fail { kind, .. }) if !kind.is_terminal() => assert!(polls >= max.get()),
        (mapped, decision) => panic!("{value:?} → {mapped:?} → {decision:?}"),
    }
});
