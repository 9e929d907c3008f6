//! The polling half of the input: `terminationCondition`, `pollingInterval`, `pollingStrategy`, `maxPollCount`
//! and `pollLocation`, each checked and named on failure.

use super::*;

pub(super) fn parse_polling(fields: &mut Fields<'_>, defaults: &SpecDefaults) -> Result<Option<PollingSpec>, ()> {
    const POLLING_KEYS: [&str; 4] = ["pollingInterval", "pollingStrategy", "maxPollCount", "pollLocation"];
    let condition = match fields.string("terminationCondition") {
        Some(source) if source.trim().is_empty() => {
            fields.problem("terminationCondition", "must not be empty");
            return Err(());
        }
        Some(source) if source.len() > MAX_CONDITION_BYTES => {
            fields.problem("terminationCondition", format!("is longer than {MAX_CONDITION_BYTES} bytes"));
            return Err(());
        }
        Some(source) => source.to_owned(),
        None if fields.get("terminationCondition").is_some() => return Err(()),
        None => {
            if let Some(key) = POLLING_KEYS.iter().find(|key| fields.get(key).is_some()) {
                fields.problem("terminationCondition", format!("is required when {key} is set"));
                return Err(());
            }
            return Ok(None);
        }
    };
    let interval = match fields.number("pollingInterval") {
        None if fields.get("pollingInterval").is_some() => None,
        None => Some(Duration::from_secs_f64(DEFAULT_POLLING_INTERVAL_SECS)),
        Some(secs) if secs > 0.0 && secs <= defaults.max_polling_interval.as_secs_f64() => {
            Some(Duration::from_secs_f64(secs))
        }
        Some(secs) => {
            let max = defaults.max_polling_interval.as_secs_f64();
            fields.problem("pollingInterval", format!("must be more than 0 and at most {max} seconds, got {secs}"));
            None
        }
    };
    let strategy = match fields.string("pollingStrategy") {
        None if fields.get("pollingStrategy").is_some() => None,
        None => Some(PollingStrategy::Fixed),
        Some(raw) => PollingStrategy::parse(raw).or_else(|| {
            fields.problem(
                "pollingStrategy",
                format!("must be FIXED, LINEAR_BACKOFF or EXPONENTIAL_BACKOFF, got {raw:?}"),
            );
            None
        }),
    };
    let max_poll_count = match fields.number("maxPollCount") {
        None if fields.get("maxPollCount").is_some() => None,
        None => NonZeroU32::new(DEFAULT_MAX_POLL_COUNT),
        Some(n) if n.fract() == 0.0 && n >= 1.0 && n <= f64::from(MAX_POLL_COUNT_LIMIT) => NonZeroU32::new(n as u32),
        Some(n) => {
            fields.problem("maxPollCount", format!("must be a whole number from 1 to {MAX_POLL_COUNT_LIMIT}, got {n}"));
            None
        }
    };
    let poll_location = fields.boolean("pollLocation").unwrap_or(false);
    match (interval, strategy, max_poll_count) {
        (Some(interval), Some(strategy), Some(max_poll_count)) => {
            Ok(Some(PollingSpec { condition, interval, strategy, max_poll_count, poll_location }))
        }
        _ => Err(()),
    }
}
