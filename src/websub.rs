//! WebSub publishing (W3C Recommendation, §7): after a regeneration that changed a feed's
//! bytes, each configured hub is told `hub.mode=publish&hub.url=<topic>` for each changed
//! feed. Notifications run in the background, with a timeout and retries with backoff, so a
//! slow or dead hub never delays serving or regeneration.

use std::time::Duration;

/// How many times a notification is tried in all.
pub const ATTEMPTS: u32 = 4;

/// Sends publish notifications to hubs.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: reqwest::Client,
    first_backoff: Duration,
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
        }
    }

    /// Notifies every hub of every topic, each pair in its own background task.
    pub fn publish(&self, hubs: &[String], topics: &[String]) {
        for hub in hubs {
            for topic in topics {
                let (notifier, hub, topic) = (self.clone(), hub.clone(), topic.clone());
                tokio::spawn(async move { notifier.notify(&hub, &topic).await });
            }
        }
    }

    /// Tells `hub` that `topic` changed; returns whether the hub accepted it (2xx).
    pub async fn notify(&self, hub: &str, topic: &str) -> bool {
        let mut backoff = self.first_backoff;
        for attempt in 1..=ATTEMPTS {
            let result = self
                .client
                .post(hub)
                .form(&[("hub.mode", "publish"), ("hub.url", topic)])
                .send()
                .await;
            match result {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(
                        hub,
                        topic,
                        status = response.status().as_u16(),
                        attempt,
                        "WebSub hub notified"
                    );
                    return true;
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
                    return false;
                }
                Ok(response) => {
                    tracing::warn!(
                        hub,
                        topic,
                        status = response.status().as_u16(),
                        attempt,
                        "WebSub hub failed; retrying"
                    );
                }
                Err(e) => {
                    tracing::warn!(hub, topic, error = %e, attempt, "WebSub hub unreachable; retrying")
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        tracing::error!(
            hub,
            topic,
            attempts = ATTEMPTS,
            "WebSub notification given up"
        );
        false
    }
}
