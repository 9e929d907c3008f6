//! The credential profiles' family: OAuth2 token requests by profile and outcome. Profile names come from the
//! configuration (a closed set), never from tasks.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::Registrar;
use super::values::TokenOutcome;

/// Labels of `conductor_http_worker_token_fetches_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileOutcome {
    profile: String,
    outcome: &'static str,
}

/// Counters of the credential profiles; cheap to clone.
#[derive(Debug, Clone)]
pub struct CredentialMetrics {
    token_fetches: Family<ProfileOutcome, Counter>,
}

impl CredentialMetrics {
    pub(super) fn register(r: &mut Registrar<'_>) -> Self {
        Self {
            token_fetches: r.add(
                "conductor_http_worker_token_fetches",
                "OAuth2 token requests of credential profiles, by outcome",
                Family::default(),
            ),
        }
    }

    /// The same counters, with every outcome of `profiles` created at zero.
    pub(super) fn with_profiles(&self, profiles: &[&str]) -> Self {
        for profile in profiles {
            for outcome in TokenOutcome::ALL.map(TokenOutcome::label) {
                let _ = self.token_fetches.get_or_create(&ProfileOutcome { profile: (*profile).to_owned(), outcome });
            }
        }
        self.clone()
    }

    /// A token request of `profile` ended with `outcome`.
    pub fn token_fetch(&self, profile: &str, outcome: TokenOutcome) {
        self.token_fetches
            .get_or_create(&ProfileOutcome { profile: profile.to_owned(), outcome: outcome.label() })
            .inc();
    }

    /// Counters registered nowhere, for tests and tools.
    pub fn detached() -> Self {
        Self { token_fetches: Family::default() }
    }
}
