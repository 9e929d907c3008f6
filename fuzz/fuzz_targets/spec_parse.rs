//! Task input → validated spec: any JSON must give a spec or a list of field problems, never a panic; a spec
//! always satisfies the invariants the executor relies on.
#![no_main]

use conductor_http_worker::http_poll::spec::{self, SpecDefaults};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match spec::parse(&input, &SpecDefaults::default()) {
        Ok(spec) => {
            assert!(!spec.request.timeout.is_zero());
            assert!(matches!(spec.request.url.scheme(), "http" | "https"));
            assert!(spec.request.url.host_str().is_some());
            if let Some(polling) = spec.polling {
                assert!(!polling.interval.is_zero());
                assert!(polling.interval <= SpecDefaults::default().max_polling_interval);
                assert!(!polling.condition.trim().is_empty());
            }
        }
        Err(error) => {
            assert!(!error.0.is_empty(), "an error names at least one field");
            assert!(error.0.iter().all(|p| !p.field.is_empty() && !p.message.is_empty()));
        }
    }
});
