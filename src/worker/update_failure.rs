//! Pure: what a failed update means, decided once for the first attempt ([`super::reporter`]) and for the
//! retries ([`super::outbox`]).

use crate::conductor::ClientError;
use crate::metrics::values::DropReason;

/// How a failed update is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFailure {
    /// 404: the server does not know the task (removed, or a wrong id). Nothing to retry.
    UnknownTask,
    /// Refused for good (another 4xx, an undecodable reply): the same body cannot fare better.
    Rejected,
    /// Worth another try: no response, a 5xx, or 401/408/429.
    Retryable,
}

impl UpdateFailure {
    /// The treatment of `error`.
    pub fn of(error: &ClientError) -> Self {
        match error {
            ClientError::Status { code: 404, .. } => UpdateFailure::UnknownTask,
            error if !error.is_retryable() => UpdateFailure::Rejected,
            _ => UpdateFailure::Retryable,
        }
    }

    /// Why the result is dropped, for a failure that ends its retries.
    pub fn drop_reason(self) -> Option<DropReason> {
        match self {
            UpdateFailure::UnknownTask => Some(DropReason::UnknownTask),
            UpdateFailure::Rejected => Some(DropReason::Rejected),
            UpdateFailure::Retryable => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_one_treatment() {
        let status = |code| ClientError::Status { code, body: String::new() };
        let cases = [
            (status(404), UpdateFailure::UnknownTask),
            (status(400), UpdateFailure::Rejected),
            (status(409), UpdateFailure::Rejected),
            (ClientError::Decode("x".into()), UpdateFailure::Rejected),
            (status(500), UpdateFailure::Retryable),
            (status(503), UpdateFailure::Retryable),
            (status(401), UpdateFailure::Retryable),
            (status(429), UpdateFailure::Retryable),
            (ClientError::Transport("reset".into()), UpdateFailure::Retryable),
        ];
        for (error, expected) in cases {
            assert_eq!(UpdateFailure::of(&error), expected, "{error:?}");
        }
        assert_eq!(UpdateFailure::Retryable.drop_reason(), None);
    }
}
