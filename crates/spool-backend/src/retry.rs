//! How long to wait between attempts.

use std::time::Duration;

/// How often and how patiently a backend retries a call that failed transiently
/// (connection refused or lost, node warming up, server busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = never retry).
    pub attempts: u32,
    /// Pause before the second attempt; doubled before each later one.
    pub first_delay: Duration,
    /// Longest pause between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, pausing 250 ms, 500 ms, 1 s and 2 s (about 4 s in all).
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    pub(crate) fn backoff(&self) -> Backoff {
        Backoff {
            next: self.first_delay,
            max: self.max_delay,
        }
    }
}

/// Exponential backoff: each delay doubles up to a ceiling.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// The schedule used while waiting for confirmations: 200 ms doubling to 5 s.
    pub(crate) fn for_polling() -> Backoff {
        Backoff {
            next: Duration::from_millis(200),
            max: Duration::from_secs(5),
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

/// Runs `op` until it succeeds, fails finally, or `policy` runs out of attempts.
pub(crate) async fn retrying<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut op: F,
) -> Result<T, crate::BackendError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::BackendError>>,
{
    let mut backoff = policy.backoff();
    let mut attempt = 1;
    loop {
        match op().await {
            Err(err) if err.is_retryable() && attempt < policy.attempts => {
                let delay = backoff.next_delay();
                tracing::debug!(what, attempt, error = %err, ?delay, "retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BackendError;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_up_to_the_ceiling() {
        let mut backoff = RetryPolicy::default().backoff();
        let delays: Vec<u64> = (0..6)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 2000, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_transient_errors_and_only_so_often() {
        let policy = RetryPolicy::default();
        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retrying(&policy, "test", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(BackendError::unreachable("http://node", "refused"))
        })
        .await;
        assert!(result.unwrap_err().is_retryable());
        assert_eq!(tries.load(Ordering::SeqCst), policy.attempts);

        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retrying(&policy, "test", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(BackendError::NotFound { what: "x".into() })
        })
        .await;
        assert!(result.unwrap_err().is_not_found());
        assert_eq!(
            tries.load(Ordering::SeqCst),
            1,
            "final errors are not retried"
        );
    }
}
