//! WebSub publishing (W3C Recommendation, §7): after a regeneration that changed a feed's
//! bytes, each configured hub is told `hub.mode=publish&hub.url=<topic>` for each changed
//! feed. Notifications run in the background, with a timeout and retries with backoff, so a
//! slow or dead hub never delays serving or regeneration.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;

/// How many times a notification is tried in all.
pub const ATTEMPTS: u32 = 4;

/// Sends publish notifications to hubs.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: reqwest::Client,
    first_backoff: Duration,
    metrics: Option<Arc<Metrics>>,
}

impl Notifier {
    /// A notifier whose requests give up after `timeout`, and that waits `first_backoff`,
    /// then twice as long each time, between attempts.
    pub fn new(timeout: Duration, first_backoff: Duration) -> Notifier {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!(
                "feedpub/",
                env!("CARGO_PKG_VERSION"),
                " (WebSub publisher)"
            ))
            .build()
            .unwrap_or_default();
        Notifier {
            client,
            first_backoff,
            metrics: None,
        }
    }

    /// The same notifier, counting the outcome of each background notification in
    /// `metrics` (`accepted`, `refused`, `failed`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Notifier {
        self.metrics = Some(metrics);
        self
    }

    /// Notifies every hub of every topic, each pair in its own background task.
    pub fn publish(&self, hubs: &[String], topics: &[String]) {
        for hub in hubs {
            for topic in topics {
                let (notifier, hub, topic) = (self.clone(), hub.clone(), topic.clone());
                tokio::spawn(async move {
                    let outcome = match notifier.try_notify(&hub, &topic).await {
                        Ok(_) => "accepted",
                        Err(NotifyError::Refused { .. }) => "refused",
                        Err(_) => "failed",
                    };
                    if let Some(metrics) = &notifier.metrics {
                        metrics.notification(outcome);
                    }
                });
            }
        }
    }

    /// Tells `hub` that `topic` changed; returns whether the hub accepted it (2xx).
    pub async fn notify(&self, hub: &str, topic: &str) -> bool {
        self.try_notify(hub, topic).await.is_ok()
    }

    /// Tells `hub` that `topic` changed, like [`Notifier::notify`]; returns the status the hub
    /// accepted it with (2xx), or why it did not.
    pub async fn try_notify(&self, hub: &str, topic: &str) -> Result<u16, NotifyError> {
        let mut backoff = self.first_backoff;
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .post(hub)
                .form(&[("hub.mode", "publish"), ("hub.url", topic)])
                .send()
                .await;
            let failure = match result {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(
                        hub,
                        topic,
                        status = response.status().as_u16(),
                        attempt,
                        "WebSub hub notified"
                    );
                    return Ok(response.status().as_u16());
                }
                Ok(response)
                    if response.status().is_client_error() && response.status().as_u16() != 429 =>
                {
                    tracing::warn!(
                        hub,
                        topic,
                        status = response.status().as_u16(),
                        "WebSub hub refused the notification"
                    );
                    return Err(NotifyError::Refused {
                        status: response.status().as_u16(),
                    });
                }
                Ok(response) => {
                    tracing::warn!(
                        hub,
                        topic,
                        status = response.status().as_u16(),
                        attempt,
                        "WebSub hub failed; retrying"
                    );
                    NotifyError::Failed {
                        status: response.status().as_u16(),
                        attempts: attempt,
                    }
                }
                Err(e) => {
                    tracing::warn!(hub, topic, error = %e, attempt, "WebSub hub unreachable; retrying");
                    NotifyError::Unreachable {
                        error: error_chain(&e),
                        attempts: attempt,
                    }
                }
            };
            if attempt >= ATTEMPTS {
                tracing::error!(
                    hub,
                    topic,
                    attempts = ATTEMPTS,
                    "WebSub notification given up"
                );
                return Err(failure);
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }
}

/// Why a hub did not accept a publish notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The hub answered with a client error (other than 429), which is not retried.
    #[error("refused with status {status} (not retried)")]
    Refused {
        /// The status of the answer.
        status: u16,
    },
    /// The hub's last answer was neither a success nor a client error (or was 429).
    #[error("status {status} after {attempts} attempt(s)")]
    Failed {
        /// The status of the last answer.
        status: u16,
        /// How many times the notification was tried.
        attempts: u32,
    },
    /// The hub could not be reached, or did not answer in time, on the last attempt.
    #[error("{error} after {attempts} attempt(s)")]
    Unreachable {
        /// The client's error and its causes.
        error: String,
        /// How many times the notification was tried.
        attempts: u32,
    },
}

/// The causes of `error`, as one line, else `error` itself: reqwest's own message only
/// repeats the URL ("error sending request for url (...)"); its causes say what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    }
}
